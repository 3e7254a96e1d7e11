#!/bin/bash
# The Debian tools the tests run for real, in one list: `npm test` checks them first (pretest) and
# .ci/run installs them. As root with apt-get, missing ones are installed; otherwise this stops at
# once and prints the exact `apt-get install` line. No test skips itself because a tool is missing.
#
#   bash scripts/test-tools.sh           check, and install what is missing when root with apt-get
#   bash scripts/test-tools.sh --check   check only (exit 1 and print the install line if any is missing)
#   bash scripts/test-tools.sh --list    print the packages, one per line
set -uo pipefail

# package  executable it provides  (what uses it)
TOOLS=(
  "systemd              /lib/systemd/systemd"   # systemd --test parses the units; systemd-analyze verify
  "systemd              /usr/bin/systemd-analyze"
  "systemd-container    /usr/bin/systemd-nspawn" # the boot tests
  "util-linux           /usr/bin/setpriv"      # systemd --test as an unprivileged user
  "mount                /bin/mount"            # overlay roots for the boot tests
  "curl                 /usr/bin/curl"         # the host scripts' HTTP client, against local AWS stand-ins
  "tar                  /bin/tar"              # the provisioning script unpacks the artifact
  "gzip                 /bin/gzip"
  "coreutils            /usr/bin/sha256sum"
  "coreutils            /usr/bin/mkfifo"       # test/pack.test.ts makes a fifo the packer must refuse
  "jq                   /usr/bin/jq"           # boot.json, Docker's health JSON, SSM's answers (Flatcar ships jq)
  "shellcheck           /usr/bin/shellcheck"   # lints host-scripts/*.sh
  "ignition             /usr/bin/ignition-validate"  # checks the Ignition stub and config
  "ignition             /usr/lib/dracut/modules.d/30ignition/ignition"  # Ignition's own fetch and files stages
  "passwd               /usr/sbin/usermod"     # Ignition's files stage runs usermod --root for core's SSH keys
  "iproute2             /bin/ip"               # network namespaces: containers cannot reach IMDS (test/imds.test.ts)
  "iptables             /usr/sbin/iptables"    # the simulated host's MASQUERADE, as Docker's bridge has
  "python3-minimal      /usr/bin/python3"      # the fake IMDS sets IP_TTL per connection (Node cannot on TCP)
  "ca-certificates      /etc/ssl/certs/ca-certificates.crt"
  "mount                /sbin/losetup"         # a loop device stands in for the data volume (test/dataVolume.test.ts, test/bootData.test.ts)
  "util-linux           /sbin/blkid"           # the data script never formats a disk blkid finds a signature on
  "e2fsprogs            /sbin/mkfs.ext4"       # the data script formats a blank data volume
  "systemd              /bin/systemd-escape"   # the mount unit's name is checked against systemd's own escaping
)

packages() { printf '%s\n' "${TOOLS[@]}" | awk '{print $1}' | sort -u; }
missing() {
  local line pkg path
  for line in "${TOOLS[@]}"; do
    read -r pkg path <<<"$line"
    [ -e "$path" ] || echo "$pkg"
  done | sort -u
}

case "${1:-}" in
--list) packages; exit 0 ;;
--check | "") ;;
*) echo "usage: bash scripts/test-tools.sh [--check|--list]" >&2; exit 2 ;;
esac

need=$(missing | tr '\n' ' ')
need=${need% }
[ -z "$need" ] && exit 0

line="apt-get install -y --no-install-recommends $need"
if [ "${1:-}" != --check ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-tools: installing $need"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends $need || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need; }; } >/dev/null ||
    { echo "test-tools: '$line' failed" >&2; exit 1; }
  still=$(missing | tr '\n' ' ')
  [ -z "$still" ] || { echo "test-tools: still missing after install: $still" >&2; exit 1; }
  exit 0
fi
echo "npm test runs these Debian tools for real, and some are missing: $need" >&2
echo "install them, then run npm test again:" >&2
echo "  sudo $line" >&2
exit 1
