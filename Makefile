# The series pipeline. `make` installs what is missing and regenerates patches/;
# `make check` proves the series. `make help` lists the targets.

CI := ci

.PHONY: all help deps base patches check check-arm64 sync checkpatch apply-check build arm64 selftests \
	boot kunit dmesg summary bisect refresh clean \
	mails apply apply-conflict check-mails other-base bench check-debug test

all: deps base patches ## install what is missing, then regenerate patches/ (the default)

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  \1\t/' | expand -t 18

deps: ## install packages, the pinned base tarball, Rust std sources, bindgen, virtme-ng, b4
	@$(CI)/install-deps.sh

base: ## make the base a git repository (cache) and check out build/linux
	@$(CI)/prepare-base.sh

patches: ## regenerate patches/ from series.txt, the sources and cover-letter.md
	@$(CI)/gen-patches.sh patches

check: ## prove the series: all stages below, then "N passed, N failed, N skipped"; BASE=/path: on that git tree
	@$(CI)/check.sh

check-debug: all ## the series on a debug kernel: lockdep, DEBUG_VM, debug_pagealloc, KFENCE, kmemleak, fault injection, stress (see README)
	@$(CI)/check-debug.sh

check-arm64: all ## the series on an emulated arm64 host with EL2 (QEMU TCG): KVM selftests and KUnit, "N passed, N failed, N skipped"
	@$(CI)/check-arm64.sh

test: ## developers: T=<collection>:<test> [CASE=fixture.variant.case]: build what is stale, boot, run just that, print its TAP
	@$(CI)/test-one.sh

mails: ## the mails b4 send would send, in build/mails (AUTHOR="Name <mail>", SIGNOFF=); see README
	@$(CI)/make-mails.sh

apply: ## report per patch how patches/ applies to BASE=/path/to/linux [BASE_REF=rev] [KEEP_GOING=1]
	@$(CI)/apply-to.sh

bench: all ## boot the series kernel, measure NDM against plain guest_memfd, print the table (REPS=5)
	@$(CI)/bench.sh

other-base: ## fetch Debian's PKG=linux-source-7.2 (sid) or linux-source-7.3 (experimental) as a git tree
	@$(CI)/fetch-other-base.sh $(PKG)

sync: ## stage: patches/ equals what the sources generate
	@$(CI)/check-sync.sh

checkpatch: ## stage: checkpatch.pl --strict on every patch
	@$(CI)/checkpatch.sh

apply-check: ## stage: git am of patches/ onto a fresh base checkout
	@$(CI)/apply-check.sh

apply-conflict: ## stage: make apply on a conflicting tree reports it and leaves the tree alone
	@$(CI)/apply-conflict-check.sh

check-mails: ## stage: make mails with a test identity; sign-offs, To/Cc per get_maintainer
	@$(CI)/check-mails.sh

build: ## stage: configure (ci/kernel.config) and build the kernel in build/kernel
	@$(CI)/build-kernel.sh

arm64: ## stage: cross-build the changed kvm and mm code for arm64 (defconfig + RUST + KVM)
	@$(CI)/build-arm64.sh

selftests: ## stage: make headers, build and install the KVM selftests of ci/selftests.txt
	@$(CI)/build-selftests.sh

boot: ## stage: boot under virtme-ng (TCG) and run the selftests; results in build/guest
	@$(CI)/boot.sh

kunit: ## stage: parse the guest's KUnit results with kunit.py
	@$(CI)/parse-kunit.sh

dmesg: ## stage: fail on warnings, bugs or reports in the guest's kernel log
	@$(CI)/check-dmesg.sh

summary: ## print the results of the last run, counts last
	@$(CI)/summary.py

bisect: ## developers: every patch builds with KVM=m, KVM=y and RUST=n (not in CI: long); PATCHES=11-14: only those
	@$(CI)/bisect.sh

refresh: ## developers: write commits base..FROM of build/linux back into the sources
	@$(CI)/refresh-sources.sh $(FROM)

clean: ## remove build/ (the cache under /var/cache/ndm-series stays)
	rm -rf build
