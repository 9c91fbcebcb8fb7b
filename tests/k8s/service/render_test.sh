#!/bin/sh
# `heteroaccel k8s render` as a user runs it: the example renders to the checked-in
# output, and bad input exits 2 with "heteroaccel k8s render: FILE: <field>: ...".
# Usage: render_test.sh HETEROACCEL SOURCE_DIR
set -u
bin=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s-render-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 1. The example renders to examples/k8s/service.rendered.yaml, on stdout and with -o.
example=$src/examples/k8s/service.yaml
expected=$src/examples/k8s/service.rendered.yaml
"$bin" k8s render "$example" >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
[ "$rc" -eq 0 ] || fail "render of the example exited $rc: $(cat "$tmp/stderr")"
diff -u "$expected" "$tmp/stdout" || fail "examples/k8s/service.rendered.yaml is stale (diff above)"
"$bin" k8s render "$example" -o "$tmp/out.yaml"; rc=$?
[ "$rc" -eq 0 ] || fail "render -o exited $rc"
cmp -s "$expected" "$tmp/out.yaml" || fail "render -o wrote something else than stdout"
"$bin" k8s render - <"$example" >"$tmp/stdin" || fail "render - (stdin) failed"
cmp -s "$expected" "$tmp/stdin" || fail "render - (stdin) differs"

# 2. A bad definition: exit 2, the file and the field named, nothing on stdout.
bad=$src/tests/k8s/service/bad.service.yaml
"$bin" k8s render "$bad" >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
[ "$rc" -eq 2 ] || fail "bad definition exited $rc, want 2"
grep -qF "heteroaccel k8s render: $bad: acceleration.compute[0]: unknown kind \"tpu\"" "$tmp/stderr" ||
  fail "bad definition message: $(cat "$tmp/stderr")"
[ ! -s "$tmp/stdout" ] || fail "bad definition printed manifests"

# 3. A missing file: exit 2 and the file named.
"$bin" k8s render "$tmp/missing.yaml" >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
[ "$rc" -eq 2 ] || fail "missing file exited $rc, want 2"
grep -qF "heteroaccel k8s render: $tmp/missing.yaml: cannot read" "$tmp/stderr" ||
  fail "missing file message: $(cat "$tmp/stderr")"

# 4. An output that cannot be written: exit 1 (not the input's fault).
"$bin" k8s render "$example" -o "$tmp/no/such/dir/out.yaml" 2>"$tmp/stderr"; rc=$?
[ "$rc" -eq 1 ] || fail "unwritable output exited $rc, want 1"

[ "$failures" -eq 0 ] && echo "k8s render: all checks passed"
exit "$failures"
