#!/usr/bin/env bash
# bench/limits.sh - what this machine and the libraries yunbak links can do with the corpus, stage
# by stage: the limits each of yunbak's steps is held against (bench/README.md, "Limits on this
# machine (issue 16)"; bench/summary.py prints the table and each step's bound).
#
#   bench/limits.sh            # REPS=3 repetitions of every measurement
#   REPS=1 bench/limits.sh     # one (on a busy machine: CPU-time rates still mean something)
#
# Rows (ts, rep, metric, value, unit, extra) go to $WORK/results/yb-limits.tsv:
#   corpus_bytes, corpus_files, sig_bytes, incr_bytes   what the steps handle (bytes, files)
#   read_{cold,warm}        every corpus file read with 1 MiB read()s (limits/readtree.c);
#                           cold = after sync + drop_caches
#   scan_stat_warm          stat of every entry (what a no-change incremental pays), entries/s,
#                           the fastest of three scans
#   stage_*                 limits/stages.c: each stage alone on the corpus's bytes, in RAM:
#                           value = MiB/s of CPU time (one core); extra: wall, in/out bytes
#   hash_*                  limits/hashes.c: hashes in RAM on 64 KiB / 4 KiB buffers (CPU MiB/s)
#   b3sum_1thread           BLAKE3 (the b3sum CLI, one thread) over a warm 256 MiB file
#   rsync_{signature,delta,patch}_{text,random}   limits/rsync.c on a database and its day-1
#                           version (CPU MiB/s of the input; of the output for the patch)
#   write_seq_fsync         one file of the stored (level-2) volume's size, 1 MiB writes, fsync (wall MiB/s)
#   write_tree_{plain,fsync,restore}   the corpus's tree re-made with its files' sizes
#                           (limits/writetree.c), files/s of wall; extra: MiB/s, CPU, syncfs after
# Never touches the corpus; scratch space is $WORK/yb-limits (at most about 2.5 GiB while it
# runs).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${WORK:-/tmp/bench-work}"
BASE="${CORPUS:-$WORK/corpus-base}"
L="$WORK/yb-limits"
RES="$WORK/results"
BIN="$WORK/bin"
REPS="${REPS:-3}"
export DEBIAN_FRONTEND=noninteractive

pkgs=()
for p in gcc libc6-dev libsodium-dev librsync-dev libzstd-dev libssl-dev libb2-dev b3sum time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
[[ -f "$BASE/.complete" || -n "${CORPUS:-}" ]] || "$SHARED/corpus.sh" build
mkdir -p "$BIN" "$L" "$RES"
CC="gcc -O2 -Wall -I$ROOT"
$CC -o "$BIN/yb-readtree" "$HERE/limits/readtree.c"
$CC -o "$BIN/yb-writetree" "$HERE/limits/writetree.c"
$CC -o "$BIN/yb-stages" "$HERE/limits/stages.c" -lsodium -lb2 -lcrypto -lrsync -lzstd
$CC -o "$BIN/yb-hashes" "$HERE/limits/hashes.c" -lsodium -lb2 -lcrypto
$CC -o "$BIN/yb-rsync" "$HERE/limits/rsync.c" -lrsync
[[ -x "$BIN/gen" ]] || gcc -O2 -o "$BIN/gen" "$SHARED/limits/gen.c"

TSV="$RES/yb-limits.tsv"
# A new run starts a new table; APPEND=1 adds rows to the existing one instead.
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\trep\tmetric\tvalue\tunit\textra\n' >"$TSV"
rep=0
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$rep" "$1" "$2" "$3" "${4:-}" | tee -a "$TSV"; }
drop() { sync; if [[ -w /proc/sys/vm/drop_caches ]]; then echo 3 >/proc/sys/vm/drop_caches; fi; }
mibs() { awk -v b="$1" -v t="$2" 'BEGIN{printf "%.1f", (t > 0 ? b/1048576/t : 0)}'; }
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

{ echo "# $(date -u +%FT%TZ) bench/limits.sh reps=$REPS commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) load=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "#   cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x$(nproc); flags:$(grep -m1 -o -w -e sha_ni -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "#   kernel: $(uname -r); fs: $(df -T "$WORK" | awk 'NR==2{print $2" on "$1}')"
  echo "#   libsodium $(ver libsodium23), libb2 $(ver libb2-1), librsync $(ver librsync2), libzstd $(ver libzstd1), openssl $(ver libssl3), b3sum $(ver b3sum)"
  echo "#   corpus: $(head -1 "$BASE/MANIFEST" 2>/dev/null)"; } | tee -a "$RES/yb-limits.meta"

# What the steps handle (not timed): the corpus, the bytes that get a librsync signature (files of
# 64 KiB and more), and what the day-1 change (corpus.sh mutate) makes an incremental read: the
# four databases and the four logs it appends 2 MiB to.
read -r files bytes sigb < <(find "$BASE" -type f ! -name MANIFEST ! -name PACKAGES ! -name .complete -printf '%s\n' |
  awk '{n++; s+=$1; if ($1 >= 65536) g+=$1} END{print n, s, g}')
incr=$(( $(stat -c %s "$BASE"/db/* "$BASE"/logs/app{0,2,4,6}.log | awk '{s+=$1} END{print s}') + 4 * 2097152 ))
rec corpus_files "$files" files
rec corpus_bytes "$bytes" bytes
rec sig_bytes "$sigb" bytes "files >= 64 KiB"
rec incr_bytes "$incr" bytes "db/*, logs/app{0,2,4,6}.log after the day-1 change"

# Day-1 versions of two databases (the change corpus.sh mutate makes).
for db in db0.text:1001:dbtext db2.rand:1003:random; do
  IFS=: read -r name seed kind <<<"$db"
  [[ -f "$L/$name.day1" ]] || { cp "$BASE/db/$name" "$L/$name.day1.tmp"; "$BIN/gen" mutate "$L/$name.day1.tmp" "$seed" 10 "$kind" 2>/dev/null; mv "$L/$name.day1.tmp" "$L/$name.day1"; }
done

for ((rep = 1; rep <= REPS; rep++)); do
  echo "=== rep $rep/$REPS"
  # --- read -------------------------------------------------------------------------------------
  for how in cold warm; do
    [[ $how == cold ]] && drop
    read -r f b w u s < <("$BIN/yb-readtree" "$BASE")
    rec read_$how "$(mibs "$b" "$w")" MiB/s "wall_s=$w cpu_s=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') files=$f"
  done
  # The fastest of three: one scan of 0.15 s took from 0.15 to 0.24 s on the same idle machine.
  best=
  for k in 1 2 3; do
    t0=$(date +%s.%N); n=$(find "$BASE" -printf '%s %T@ %i\n' | wc -l); t1=$(date +%s.%N)
    best=$(awk -v n="$n" -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN{r = n/(b-a); printf "%.0f", (best == "" || r > best) ? r : best}')
  done
  rec scan_stat_warm "$best" entries/s "entries=$n fastest of 3"

  # --- the stages, in RAM, on the corpus's bytes ----------------------------------------------------
  "$BIN/yb-stages" "$BASE" 2>/dev/null | while IFS=$'\t' read -r name in out w c; do
    rec "stage_$name" "$(mibs "$in" "$c")" MiB/s "in=$in out=$out wall_s=$w cpu_s=$c wall_MiB/s=$(mibs "$in" "$w")"
  done
  "$BIN/yb-hashes" 1024 | while IFS=$'\t' read -r name v; do rec "hash_$name" "$v" MiB/s "CPU time, in RAM"; done
  cat "$BASE/db/db2.rand" >/dev/null
  /usr/bin/time -f '%U %S' -o "$L/b3.time" b3sum --num-threads 1 --no-mmap "$BASE/db/db2.rand" >/dev/null
  rec b3sum_1thread "$(mibs "$(stat -c %s "$BASE/db/db2.rand")" "$(awk '{print $1+$2}' "$L/b3.time")")" MiB/s "CPU time, warm file, read() included"

  # --- librsync on the databases -------------------------------------------------------------------
  for pair in text:db0.text random:db2.rand; do
    IFS=: read -r kind name <<<"$pair"
    cat "$BASE/db/$name" "$L/$name.day1" >/dev/null
    "$BIN/yb-rsync" "$BASE/db/$name" "$L/$name.day1" "$L" | while IFS=$'\t' read -r step in out w c; do
      v=$in; [[ $step == rsync_patch ]] && v=$out   # a patch's work is its output
      rec "${step}_$kind" "$(mibs "$v" "$c")" MiB/s "in=$in out=$out wall_s=$w cpu_s=$c"
    done
  done

  # --- the write path ---------------------------------------------------------------------------
  vol=$(awk -F'\t' -v r="$rep" '$2 == r && $3 == "stage_seal" {split($6, a, " "); for (i in a) if (a[i] ~ /^out=/) print int(substr(a[i], 5) / 1048576)}' "$TSV" | tail -1)
  rm -f "$L/seq"; drop
  IFS=$'\t' read -r m f b w u s sy < <("$BIN/yb-writetree" seq "$L/seq" "${vol:-1100}")
  rec write_seq_fsync "$(mibs "$b" "$w")" MiB/s "bytes=$b wall_s=$w cpu_s=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')"
  rm -f "$L/seq"
  for mode in plain restore fsync; do
    rm -rf "$L/tree" "$L/tree.stage"; drop
    IFS=$'\t' read -r m f b w u s sy < <("$BIN/yb-writetree" tree "$BASE" "$L/tree" "$mode")
    rec write_tree_$mode "$(awk -v f="$f" -v w="$w" 'BEGIN{printf "%.0f", f/w}')" files/s \
        "files=$f bytes=$b wall_s=$w cpu_s=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') MiB/s=$(mibs "$b" "$w") syncfs_after_s=$sy"
    rm -rf "$L/tree" "$L/tree.stage"
  done
done
echo "done: $TSV (bench/summary.py --limits $TSV prints the table)"
