#!/usr/bin/env python3
"""Checks that an HTML page yunbak writes is self-contained and well-formed, with Python's own
html.parser (an independent reader): one <html>, every element closed in order (void elements
aside), no script but JSON data, and no reference to anything outside the page (no URL in any
attribute, no <link>, <img>, <iframe>, <object>, no url() or @import in the stylesheet, no
"http:" or "https:" anywhere outside the text people read).

    html-check.py PAGE     prints "ok" or one line per problem and exits 1
"""
import re
import sys
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "area", "base", "source"}
FORBIDDEN = {"link", "img", "iframe", "object", "embed", "frame", "base", "audio", "video",
             "source", "form"}
URL_ATTRS = {"href", "src", "srcset", "action", "data", "poster", "background", "cite"}


class Check(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []
        self.html = 0
        self.in_style = False
        self.in_script = False

    def where(self):
        return "line %d, column %d" % self.getpos()

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.html += 1
        if tag in FORBIDDEN:
            self.problems.append("%s: <%s> refers outside the page" % (self.where(), tag))
        for name, value in attrs:
            if name in URL_ATTRS or name.startswith("on"):
                self.problems.append("%s: <%s %s=...>" % (self.where(), tag, name))
            if value and re.search(r"(?i)(https?:|ftp:|//[a-z0-9])", value):
                self.problems.append("%s: <%s %s=%r> names a URL" % (self.where(), tag, name, value))
        if tag == "script":
            if dict(attrs).get("type") != "application/json":
                self.problems.append("%s: a script that is not JSON data" % self.where())
            self.in_script = True
        if tag == "style":
            self.in_style = True
        if tag not in VOID:
            self.stack.append((tag, self.where()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append("%s: </%s> closes a void element" % (self.where(), tag))
            return
        if not self.stack or self.stack[-1][0] != tag:
            opened = self.stack[-1] if self.stack else ("nothing", "")
            self.problems.append("%s: </%s> closes <%s> opened at %s" %
                                 (self.where(), tag, opened[0], opened[1]))
            return
        self.stack.pop()
        if tag == "script":
            self.in_script = False
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"(?i)(url\s*\(|@import|https?:)", data):
            self.problems.append("%s: the stylesheet refers outside the page" % self.where())


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    c = Check()
    c.feed(text)
    c.close()
    if c.html != 1:
        c.problems.append("%d <html> elements, not one" % c.html)
    for tag, where in c.stack:
        c.problems.append("<%s> opened at %s is never closed" % (tag, where))
    if not text.startswith("<!DOCTYPE html>\n"):
        c.problems.append("no <!DOCTYPE html> first")
    for p in c.problems:
        print(p)
    if c.problems:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
