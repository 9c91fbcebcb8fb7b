#!/usr/bin/python3
"""List or extract files packed in a MediaPipe web solution's assets file.

MediaPipe's npm solutions (@mediapipe/objectron, @mediapipe/hands, ...) ship
several files concatenated in *_solution_packed_assets.data; the byte range
of each file is listed in the "files" metadata of the matching
*_packed_assets_loader.js.

Usage:
  packed_assets.py LOADER.js                         list name, start, end
  packed_assets.py LOADER.js DATA NAME_SUFFIX OUT    extract one file
NAME_SUFFIX matches the end of a packed file name (for example
"object_detection_oidv4_labelmap.txt"); it must match exactly one file.
"""

import json
import os
import re
import sys


def read_entries(loader_path):
    """[(filename, start, end)] from the loader's "files": [...] metadata."""
    with open(loader_path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'"files"\s*:\s*(\[[^\]]*\])', text)
    if not m:
        raise ValueError("no \"files\" metadata found in %s" % loader_path)
    entries = json.loads(m.group(1))
    return [(e["filename"], int(e["start"]), int(e["end"])) for e in entries]


def extract(loader_path, data_path, suffix, out_path):
    matches = [e for e in read_entries(loader_path) if e[0].endswith(suffix)]
    if len(matches) != 1:
        raise ValueError("%d packed files end with %r in %s" % (len(matches), suffix, loader_path))
    name, start, end = matches[0]
    size = os.path.getsize(data_path)
    if not (0 <= start < end <= size):
        raise ValueError("range %d:%d of %s is outside %s (%d bytes)" % (start, end, name, data_path, size))
    with open(data_path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return name, start, end


def main(argv):
    try:
        if len(argv) == 2:
            for name, start, end in read_entries(argv[1]):
                print("%s %d %d" % (name, start, end))
            return 0
        if len(argv) == 5:
            name, start, end = extract(*argv[1:5])
            print("extracted %s [%d, %d) -> %s" % (name, start, end, argv[4]))
            return 0
    except (OSError, ValueError) as e:
        print("packed_assets: %s" % e, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
