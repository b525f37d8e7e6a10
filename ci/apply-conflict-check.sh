#!/bin/bash
# Stage "apply-conflict": `make apply` on a tree the series cannot apply to reports the
# patch and the file that conflict, exits non-zero and leaves the tree as it was.
# The tree: the base plus a commit, on a branch with an uncommitted change, that
# rewrites a line the first modification of an existing file in the series removes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$BUILD/conflict-base
rm -rf "$tree"
git -c init.defaultBranch=master clone -q --shared --no-checkout "$TREE" "$tree"
git -C "$tree" checkout -q -b user-branch base

# The first line an existing file loses in the series, and the patch that removes it.
read -r patch file line < <(python3 - "$REPO_DIR"/patches/0*.patch <<'PY'
import sys
for path in sys.argv[1:]:
    if path.endswith("0000-cover-letter.patch"):
        continue
    cur, in_hunk, new = None, False, False
    for l in open(path, errors="replace"):
        if l.startswith("diff --git "):
            cur, in_hunk, new = l.split(" b/")[-1].strip(), False, False
        elif l.startswith("new file mode"):
            new = True
        elif l.startswith("@@"):
            in_hunk = True
        elif in_hunk and not new and l.startswith("-") and len(l.strip()) > 8:
            print(path.rsplit("/", 1)[-1][:4], cur, l[1:].rstrip("\n").replace(" ", "\x01"))
            sys.exit(0)
sys.exit(1)
PY
)
line=${line//$'\x01'/ }
python3 - "$tree/$file" "$line" <<'PY'
import sys
path, line = sys.argv[1], sys.argv[2]
text = open(path).read()
assert line + "\n" in text, f"{line!r} not in {path}"
open(path, "w").write(text.replace(line + "\n", line + " /* changed here too */\n", 1))
PY
git_fixed -C "$tree" commit -q -a -m "A change the series does not expect"
echo "/* uncommitted */" >>"$tree/README"
head_before=$(git -C "$tree" rev-parse HEAD)

rc=0
out=$(BASE=$tree "$REPO_DIR/ci/apply-to.sh" 2>&1) || rc=$?
echo "$out"
[ "$rc" -ne 0 ] || die "make apply succeeded on a tree that conflicts with patch $patch"
grep -q "CONFLICT: $patch" <<<"$out" || die "the report does not name patch $patch"
grep -qF "in: $file" <<<"$out" || die "the report does not name $file"
[ "$(git -C "$tree" rev-parse HEAD)" = "$head_before" ] || die "the tree's HEAD moved"
[ "$(git -C "$tree" symbolic-ref HEAD)" = refs/heads/user-branch ] || die "the branch changed"
[ "$(git -C "$tree" status --porcelain --untracked-files=no)" = " M README" ] ||
	die "the tree's checkout changed"
[ "$(git -C "$tree" worktree list | wc -l)" -eq 1 ] || die "a work tree was left behind"
echo "apply-conflict: patch $patch reported with $file; the tree is untouched"
rm -rf "$tree"
