# lib.sh: shared by scripts/test and scripts/demo (sourced, not run).
#
# divex builds from Debian bookworm packages only. divex_ensure_packages
# installs whatever is missing when run as root, and otherwise prints the one
# apt-get command that would do it and fails.

# Build, test and fuzzing tools, then the libraries divex links (DESIGN.md
# section 8), then what the scripts themselves use beyond a minimal system.
DIVEX_PACKAGES=(
	build-essential cmake pkg-config clang libclang-rt-14-dev llvm
	libsodium-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler libnng-dev
	libsqlite3-dev libcmocka-dev libinih-dev libjansson-dev libmicrohttpd-dev libmbedtls-dev
	prometheus scdoc
	nng-utils faketime valgrind tzdata systemd
	git ca-certificates coreutils diffutils util-linux procps
)

divex_say() {
	printf '\n==> %s\n' "$*"
}

divex_missing_packages() {
	local p status
	for p in "${DIVEX_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		if [ "$status" != "ii " ]; then
			printf '%s ' "$p"
		fi
	done
}

divex_ensure_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "dpkg-query not found: this is not a Debian system. Install the equivalents of:"
		echo "  ${DIVEX_PACKAGES[*]}"
		echo "and the build will go on with whatever is installed."
		return 0
	fi
	local missing
	missing=$(divex_missing_packages)
	if [ -z "$missing" ]; then
		echo "All ${#DIVEX_PACKAGES[@]} Debian packages divex needs are installed."
		return 0
	fi
	local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing% }"
	if [ "$(id -u)" -ne 0 ]; then
		echo "Missing Debian packages: ${missing% }"
		echo "Run this as root (or rerun this script as root), then try again:"
		echo "  $cmd"
		return 1
	fi
	echo "Installing the missing Debian packages: ${missing% }"
	apt-get update
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}
