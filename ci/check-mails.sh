#!/bin/bash
# Stage "mails": `make mails` with a test identity, then check what it wrote: one mail
# per patch plus the cover letter; each patch signed off by its author and its sender;
# To/Cc of each patch hold KVM's and mm's lists and everyone scripts/get_maintainer.pl
# names for that patch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$BUILD/mails
AUTHOR="Test Author <author@example.invalid>" SIGNOFF="Test Sender <sender@example.invalid>" \
	MAILS_DIR=$out "$REPO_DIR/ci/make-mails.sh"

python3 - "$out" "$BUILD/mails-tree" "$REPO_DIR/patches" <<'PY'
import email, email.policy, glob, os, re, subprocess, sys

out, tree, patches = sys.argv[1:]
expected = sorted(p for p in glob.glob(os.path.join(patches, "*.patch"))
                  if not p.endswith("0000-cover-letter.patch"))
mails = sorted(glob.glob(os.path.join(out, "*.eml")))
failed = False

def fail(msg):
    global failed
    failed = True
    print(f"mails: {msg}")

def addresses(value):
    return {a.lower() for a in re.findall(r"[\w.+-]+@[\w.-]+", value or "")}

if len(mails) != len(expected) + 1:
    fail(f"{len(mails)} mails for {len(expected)} patches and a cover letter")
required = {"kvm@vger.kernel.org", "linux-mm@kvack.org"}
for mail, patch in zip(mails[1:], expected):
    name = os.path.basename(mail)
    with open(mail, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    body = msg.get_body().get_content()
    sender = msg["From"].addresses[0].addr_spec.lower()
    m = re.match(r"From: .*<(.*)>\n", body)
    author = m.group(1).lower() if m else sender
    signoffs = {a.lower() for a in re.findall(r"^Signed-off-by: .*<(.*)>$", body, re.M)}
    for who, what in ((author, "author"), (sender, "sender")):
        if who not in signoffs:
            fail(f"{name}: no Signed-off-by of its {what} {who}")
    recipients = addresses(str(msg["To"])) | addresses(str(msg["Cc"]))
    missing = required - recipients
    named = subprocess.run(
        ["./scripts/get_maintainer.pl", "--nogit", "--nogit-fallback", "--norolestats", patch],
        cwd=tree, capture_output=True, text=True, check=True).stdout
    missing |= addresses(named) - recipients
    if missing:
        fail(f"{name}: To/Cc lack {', '.join(sorted(missing))}")
    else:
        print(f"mails: {name}: {len(recipients)} recipients, get_maintainer's all among them")
sys.exit(1 if failed else 0)
PY
