import os, random, sys
d, step = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
if step == 0:
    open(f"{d}/big", "wb").write(random.Random(7).randbytes(256 << 10))
    open(f"{d}/a.txt", "w").write("alpha\n")
    open(f"{d}/b.txt", "w").write("beta\n")
else:
    fd = os.open(f"{d}/big", os.O_WRONLY)
    os.pwrite(fd, random.Random(7 + step).randbytes(4096), (3 if step == 1 else 50) * 4096)
    os.close(fd)
