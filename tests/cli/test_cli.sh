#!/usr/bin/env bash
# test_cli.sh: the divex command end to end, offline: help and usage errors,
# key creation and the key file's protections, roster entries, and sealing
# and opening envelopes with their refusals (wrong recipient, tampering,
# replay). Every expected exit status is checked explicitly.
#
# usage: test_cli.sh PATH/TO/divex
set -euo pipefail

DIVEX=${1:?usage: test_cli.sh PATH/TO/divex}
case $DIVEX in
/*) ;;
*) DIVEX=$PWD/$DIVEX ;;
esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/divex-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
unset DIVEX_HOME

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	echo "    status: $rc"
	sed 's/^/    stdout: /' out | head -20
	sed 's/^/    stderr: /' err | head -20
}

# run ARGS...: runs divex; stdout in ./out, stderr in ./err, status in $rc.
run() {
	set +e
	"$DIVEX" "$@" >out 2>err
	rc=$?
	set -e
	cat out err >>transcript
}
# expect STATUS DESCRIPTION ARGS...: runs divex and checks its exit status.
expect() {
	local want=$1 desc=$2
	shift 2
	run "$@"
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else not_ok "$desc (want status $want)"; fi
}
# has FILE TEXT DESCRIPTION: checks that FILE contains TEXT (fixed string).
has() {
	if grep -qF -- "$2" "$1"; then ok "$3"; else not_ok "$3 (no '$2' in $1)"; fi
}
hasnt() {
	if grep -qF -- "$2" "$1"; then not_ok "$3 ('$2' found in $1)"; else ok "$3"; fi
}
# flip FILE OFFSET: inverts the lowest bit of one byte in place.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

printf 'correct horse battery\n' >pass
printf 'wrong horse\n' >wrong
chmod 600 pass wrong
P=(--passphrase-file pass)
K=(--kdf interactive)

echo "# help and usage"
expect 0 "divex --help" --help
expect 0 "divex help" help
expect 0 "divex version" version
expect 2 "no command is a usage error" 
expect 2 "unknown command" frobnicate
has err "unknown command" "unknown command is named"
expect 2 "unknown verb" keys frobnicate
for g in keys entry envelope relay; do
	expect 0 "divex $g --help" "$g" --help
	expect 0 "divex help $g" help "$g"
done
for cmd in "keys init" "keys show" "keys rotate-prekey" "entry show" "envelope seal" \
	"envelope open" "envelope inspect" "relay status"; do
	# shellcheck disable=SC2086
	expect 0 "divex $cmd --help" $cmd --help
	has out "usage: divex $cmd" "divex $cmd --help prints its usage"
done
expect 2 "a passphrase on argv is not an option" keys init --state FRA --passphrase secret
expect 2 "keys init needs --state" --home fra keys init "${P[@]}" "${K[@]}"
expect 2 "keys init refuses a bad State code" --home fra keys init --state fr "${P[@]}" "${K[@]}"
expect 2 "keys init refuses an unknown KDF profile" --home fra keys init --state FRA --kdf fast "${P[@]}"
check "nothing was created by refused commands" test ! -e fra

echo "# keys"
for s in FRA MEX BFA; do
	h=$(echo "$s" | tr 'A-Z' 'a-z')
	expect 0 "keys init $s" --home "$h" keys init --state "$s" --name "State $s" "${K[@]}" "${P[@]}"
done
has out "Fingerprint:" "keys init prints the fingerprint"
check "key file has mode 0600" test "$(stat -c %a fra/state.key)" = 600
check "home directory has mode 0700" test "$(stat -c %a fra)" = 700
check "enrollment file written" test -s fra/enrollment.dxe
cp fra/state.key fra-key.orig
expect 1 "keys init twice is refused" --home fra keys init --state FRA "${K[@]}" "${P[@]}"
has err "already exists" "second keys init says the key file exists"
check "second keys init left the key file unchanged" cmp -s fra/state.key fra-key.orig

expect 0 "keys show --json" --home fra keys show --json "${P[@]}"
has out '"state": "FRA"' "keys show --json names the State"
has out '"fingerprint": "' "keys show --json has the fingerprint"
has out '"identity_key_id": "' "keys show --json has the identity key id"
has out '"prekeys": [' "keys show --json lists prekeys"
FP=$(sed -n 's/.*"fingerprint": "\([0-9 ]*\)".*/\1/p' out)
check "fingerprint is six groups of five digits" \
	bash -c "[[ '$FP' =~ ^[0-9]{5}( [0-9]{5}){5}$ ]]"
DIVEX_HOME=fra expect 0 "DIVEX_HOME selects the home" keys show "${P[@]}"
expect 4 "keys show without a key file" --home nohome keys show "${P[@]}"
has err "divex keys init" "missing key file message says to run keys init"
expect 5 "wrong passphrase" --home fra keys show --passphrase-file wrong
expect 5 "wrong passphrase, --json" --home fra keys show --json --passphrase-file wrong
has err '"error":"DX_EPASSPHRASE"' "--json errors are JSON on stderr"
chmod 644 fra/state.key
expect 5 "group-readable key file is refused" --home fra keys show "${P[@]}"
has err "chmod 600" "the refusal says chmod 600"
chmod 600 fra/state.key
chmod 644 pass
expect 5 "group-readable passphrase file is refused" --home fra keys show "${P[@]}"
chmod 600 pass
expect 4 "missing passphrase file" --home fra keys show --passphrase-file nothere
if command -v setsid >/dev/null; then
	set +e
	setsid -w "$DIVEX" --home fra keys show </dev/null >out 2>err
	rc=$?
	set -e
	if [ "$rc" -eq 5 ]; then ok "no passphrase and no terminal"; else not_ok "no passphrase and no terminal"; fi
	has err "--passphrase-file" "no passphrase: the message names --passphrase-file"
fi
expect 0 "passphrase from a file descriptor" --home fra keys show --passphrase-fd 3 3<pass

expect 0 "keys rotate-prekey" --home fra keys rotate-prekey "${P[@]}" --json
has out '"new_prekey"' "rotate-prekey reports the new prekey"
has out '"erased": 0' "rotate-prekey reports how many were erased"
expect 0 "keys show after rotation" --home fra keys show --json "${P[@]}"
check "two prekeys after rotation" test "$(grep -c '"valid_from"' out)" -eq 2
check "key file still mode 0600 after rotation" test "$(stat -c %a fra/state.key)" = 600

echo "# roster entries"
expect 0 "entry show" entry show mex/enrollment.dxe
has out "MEX" "entry show names the State"
has out "State MEX" "entry show prints the display name"
expect 0 "entry show --json" entry show --json fra/enrollment.dxe
has out "\"fingerprint\": \"$FP\"" "the entry's fingerprint matches keys show"
has out '"name": "State FRA"' "rotation kept the display name"
cp mex/enrollment.dxe bad.dxe
flip bad.dxe 60
expect 3 "altered entry is refused" entry show bad.dxe
expect 4 "missing entry file" entry show nothere.dxe
expect 2 "entry show needs a file" entry show

echo "# envelopes"
printf 'Case note.\nForty rifles, serials filed off.\n' >note.txt
head -c 300000 /dev/urandom >evidence.bin
expect 0 "envelope seal with an attachment" --home fra envelope seal --to mex/enrollment.dxe \
	--file note.txt --subject "Rifles at the port" --handling H2 --evaluation B2 \
	--attach evidence.bin -o e1.dxe "${P[@]}"
check "envelope has mode 0600" test "$(stat -c %a e1.dxe)" = 600
check "attachment stream written beside it" test -s e1.dxe.att1
expect 1 "seal never overwrites" --home fra envelope seal --to mex/enrollment.dxe \
	--file note.txt -o e1.dxe "${P[@]}"
expect 2 "seal without -o" --home fra envelope seal --to mex/enrollment.dxe --file note.txt "${P[@]}"
expect 2 "seal with a bad handling code" --home fra envelope seal --to mex/enrollment.dxe \
	--file note.txt --handling H9 -o x.dxe "${P[@]}"
expect 2 "H3 needs restrictions" --home fra envelope seal --to mex/enrollment.dxe \
	--file note.txt --handling H3 -o x.dxe "${P[@]}"
expect 2 "sealing to one's own entry" --home fra envelope seal --to fra/enrollment.dxe \
	--file note.txt -o x.dxe "${P[@]}"
expect 3 "sealing to an altered entry" --home fra envelope seal --to bad.dxe \
	--file note.txt -o x.dxe "${P[@]}"
check "refused seals wrote nothing" test ! -e x.dxe

expect 0 "envelope inspect --json" envelope inspect --json e1.dxe
has out '"sender": "FRA"' "inspect shows the sender"
has out '"recipient": "MEX"' "inspect shows the recipient"
has out '"attachment_ids": [' "inspect lists attachment ids"
hasnt out "Rifles" "inspect does not see the subject"
expect 3 "inspect refuses a non-envelope" envelope inspect note.txt

expect 3 "wrong recipient is refused" --home bfa envelope open e1.dxe --from fra/enrollment.dxe "${P[@]}"
has err "another State" "the wrong-recipient refusal says so"
expect 3 "wrong sender entry is refused" --home mex envelope open e1.dxe --from bfa/enrollment.dxe "${P[@]}"
cp e1.dxe tampered.dxe
flip tampered.dxe $(($(stat -c %s tampered.dxe) - 100))
check "the tampered copy differs" bash -c '! cmp -s e1.dxe tampered.dxe'
expect 3 "tampered envelope is refused" --home mex envelope open tampered.dxe --from fra/enrollment.dxe "${P[@]}"

mkdir keep && cp e1.dxe.att1 keep/
flip e1.dxe.att1 5000
expect 3 "tampered attachment stream is refused" --home mex envelope open e1.dxe \
	--from fra/enrollment.dxe -o saved "${P[@]}"
check "nothing saved from a refused attachment" test -z "$(ls -A saved 2>/dev/null)"
rm e1.dxe.att1
expect 4 "missing attachment stream" --home mex envelope open e1.dxe --from fra/enrollment.dxe \
	-o saved "${P[@]}"
cp keep/e1.dxe.att1 .

expect 0 "envelope open" --home mex envelope open e1.dxe --from fra/enrollment.dxe -o saved "${P[@]}"
has out "MARKING" "open shows the marking"
has out "H2: no further dissemination" "open shows the handling code in words"
has out "B (source has mostly proved reliable)" "open shows the evaluation"
has out "Rifles at the port" "open shows the subject"
has out "Forty rifles, serials filed off." "open shows the text"
check "the attachment decrypts to the original" cmp evidence.bin saved/evidence.bin
expect 3 "opening again is refused as a replay" --home mex envelope open e1.dxe \
	--from fra/enrollment.dxe "${P[@]}"
has err "replay" "the replay refusal says so"

printf 'From standard input.\n' >stdin.txt
expect 0 "seal text from standard input" --home mex envelope seal --to fra/enrollment.dxe - \
	--subject $'esc\e[31mred' --sequence 7 -o e2.dxe "${P[@]}" <stdin.txt
expect 0 "envelope open --json" --home fra envelope open --json e2.dxe --from mex/enrollment.dxe "${P[@]}"
has out '"text": "From standard input.\n"' "--json open carries the text"
has out '"sequence": 7' "--json open carries the sequence"
has out '"handling_code": "H0"' "H0 is the default handling"
expect 3 "replay refused for the second envelope too" --home fra envelope open e2.dxe \
	--from mex/enrollment.dxe "${P[@]}"
expect 0 "inspect the second envelope" envelope inspect e2.dxe
rm -f "$WORK/fra/opened-ids"
expect 0 "open in text mode (after clearing the record)" --home fra envelope open e2.dxe \
	--from mex/enrollment.dxe "${P[@]}"
has out 'esc\x1b[31mred' "untrusted text is escaped"
check "no raw escape byte reaches the terminal" bash -c "! grep -q $'\\e' out"

echo "# secrets"
# Every command's output so far, text and JSON, errors included.
hasnt transcript "correct horse battery" "no passphrase in any output"
hasnt transcript "wrong horse" "not even a wrong one"

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $n checks failed"
	exit 1
fi
echo "# all $n checks passed"
