#!/bin/sh
# deps.sh [build|test] - make sure the Debian packages owlpost needs are
# installed.  As root, missing ones are installed with apt-get; otherwise
# the one apt-get line to run is printed and the script fails.
set -eu

# publicsuffix: owld reads its list at run time (DMARC's organizational
# domain, docs/DMARC.md); the unit tests read it too ("test" installs
# BUILD as well, so it is not repeated in TEST)
BUILD="gcc make pkg-config libevent-dev libssl-dev libcrypt-dev zlib1g-dev publicsuffix"
TEST="libcmocka-dev python3 python3-pytest swaks libnet-ssleay-perl openssl curl fetchmail clang libclang-rt-dev valgrind dnsmasq-base postfix dovecot-pop3d dovecot-imapd isync offlineimap3 neomutt getmail6 python3-pexpect gnuplot-nox glusterfs-server glusterfs-client dpkg-dev debhelper lintian git python3-dkim python3-cryptography python3-spf rspamd"

case "${1:-build}" in
build) want="$BUILD" ;;
test) want="$BUILD $TEST" ;;
*) echo "usage: $0 [build|test]" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "owlpost: missing Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "owlpost: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix: no system configuration and no running service; the tests
# start their own instance on loopback with their own config directory
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	apt-get install -y --no-install-recommends $missing
