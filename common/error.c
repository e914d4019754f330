/*
 * error.c: sentences for error codes. A message says what went wrong in the
 * user's terms and, wherever there is one, what to do next.
 */
#include "error.h"

#include <errno.h>
#include <stddef.h>

struct errdesc {
	int code;
	const char *name;
	const char *text;
};

#define E(c, t) { c, #c, t }
static const struct errdesc table[] = {
	E(DX_OK, "success"),
	E(DX_ENOMEM, "out of memory; free some memory or lower the configured limits and retry"),
	E(DX_EIO, "input/output error; check the disk and the file's path, then retry"),
	E(DX_EINVAL, "invalid argument; see --help for the expected form"),
	E(DX_EPARSE, "malformed data: the bytes do not decode as the expected message; the sender or file is corrupt or not a divex object"),
	E(DX_ETOOBIG, "too large: the input exceeds the protocol's size limit; split it or send it as an attachment"),
	E(DX_ENOENT, "not found; check the name or path"),
	E(DX_EEXIST, "already exists and was left untouched; choose another path (if it is a key file, moving it away destroys those keys)"),
	E(DX_ECRYPTO, "the cryptographic library failed to initialise; check that libsodium is installed and /dev/urandom is readable"),
	E(DX_ESTATE_CODE, "invalid State code: use the ISO 3166-1 alpha-3 code in capitals, e.g. FRA, MEX, BFA"),
	E(DX_ENOSPC, "no space left on the disk (the relay's, if the relay gave this answer; otherwise the disk of this home or of the file being written): nothing already accepted was lost; free space there, then retry (queued messages are retried on their own)"),
	E(DX_EKEYFILE_PERM, "the key file is readable by group or others; run 'chmod 600' on it (and check its owner) before using it"),
	E(DX_EPASSPHRASE, "wrong passphrase, or the key file was modified; check the passphrase file (a trailing newline is ignored)"),
	E(DX_EKEYFILE_CORRUPT, "the key file is truncated or corrupt; restore it from your backup"),
	E(DX_EKEYFILE_VERSION, "the key file was written by an unsupported version of divex; upgrade divex"),
	E(DX_ENO_PASSPHRASE, "no passphrase given; use --passphrase-file FILE, --passphrase-fd N, or run on a terminal to be prompted"),
	E(DX_ESIG, "signature check failed: the data was not signed by the key it claims; do not trust it"),
	E(DX_EROSTER, "invalid roster entry: a required field is missing or out of range; ask the State to re-enroll"),
	E(DX_ESUITE, "unsupported cryptographic suite; the sender uses a newer divex: upgrade this node"),
	E(DX_ERECIPIENT, "envelope is addressed to another State or another static key; it was not meant for this node"),
	E(DX_EPREKEY_UNKNOWN, "envelope uses a prekey this node never had; the sender's roster copy is wrong: it must refresh the roster and re-seal"),
	E(DX_EPREKEY_ERASED, "envelope uses a prekey whose private half was erased (forward secrecy); the sender must re-seal to the current prekey"),
	E(DX_EPREKEY_EXPIRED, "envelope was sealed to a prekey outside its validity window; the sender must re-seal to the current prekey"),
	E(DX_EOUTER_SIG, "envelope signature does not verify: it was altered in transit or not sent by the State it names; it was refused"),
	E(DX_EINNER_SIG, "the payload's signature does not verify or is bound to other parties; the content was refused"),
	E(DX_EDECRYPT, "decryption failed: the ciphertext or header was tampered with; it was refused"),
	E(DX_EREPLAY, "envelope id seen before: this is a replay or a duplicate and was refused"),
	E(DX_ECOMMIT, "key commitment does not match: the sender produced an inconsistent envelope; it was refused"),
	E(DX_EDH, "a public key is of low order (Diffie-Hellman result is zero); the key is invalid and was refused"),
	E(DX_ESTALE, "timestamp outside the accepted window; check both clocks (NTP) and have the sender re-seal"),
	E(DX_ESENDER, "the sender is not a known member of the roster; refresh the roster, or the sender must enroll"),
	E(DX_EATT_TRUNCATED, "attachment is truncated: its final chunk is missing; download it again"),
	E(DX_EATT_CORRUPT, "attachment chunk failed authentication: it was altered, reordered or spliced; download it again"),
	E(DX_EATT_TRAILING, "attachment has data after its final chunk; it was refused"),
	E(DX_EATT_HASH, "attachment does not match the hash its envelope promised; it was refused"),
	E(DX_EPROOF, "proof does not verify: the log or the proof is inconsistent; keep the evidence and alert the Secretariat and other States"),
	E(DX_ELOG_INCONSISTENT, "the relay signed two checkpoints that cannot both hold (a smaller tree, or another root for the same size): the log was forked or rolled back; keep both checkpoints as evidence and alert the Secretariat and other States"),
	E(DX_ETIMEDOUT, "no answer in time; check that the relay is running and reachable, then retry (queued messages are kept)"),
	E(DX_ECLOSED, "the connection was closed while the request was in flight; it will be retried"),
	E(DX_EUNREACHABLE, "cannot reach the peer: check the URL in the config, the network and the firewall"),
	E(DX_ETLS, "TLS failed: check the certificate files, and that the relay's certificate matches the pinned one"),
	E(DX_EBUSY, "busy: too many requests in flight; retry shortly"),
	E(DX_ENOT_MEMBER, "not a member: the State is not admitted to the roster; ask the Secretariat to admit its enrollment file"),
	E(DX_ESUSPENDED, "the State is suspended on the roster; contact the Secretariat"),
	E(DX_EREQ_REPLAY, "request id reused for a different request; this is a replay and was refused"),
	E(DX_EREQ_STALE, "request time is outside the relay's window; check this host's clock (NTP)"),
	E(DX_EREQ_SIG, "request signature does not verify against the roster's identity key; check that this node uses the admitted key file"),
	E(DX_EQUOTA, "quota exceeded (mailbox, attachment storage or message size); wait for the recipient to fetch, or ask the Secretariat to raise the quota"),
	E(DX_ERATE, "too many requests from this State; slow down and retry"),
	E(DX_ENOT_RECIPIENT, "this State is not a recipient of that envelope or attachment; nothing was released"),
	E(DX_EDUPLICATE_ENTRY, "this roster entry is already known or older than the current one; nothing changed"),
	E(DX_EINTERNAL, "internal error at the relay; the request was not carried out and can be retried; the operator should read the relay's log"),
	E(DX_ESESSION, "the relay does not know this session (it restarted, or the session expired or was replaced); the node agrees a new one and sends the request again by itself"),
	E(DX_EKEY_CHANGED, "this State's identity key differs from the one pinned for it; the pinned key stays in use: compare the new key's fingerprint with that State out of band (in person or by diplomatic note) and, only if it matches, run 'divex keys verify STATE FINGERPRINT'"),
	E(DX_ENODAEMON, "the State's daemon is not running or its control socket is missing: start it with 'divexd run --home DIR' and check --home"),
	E(DX_EFORBIDDEN, "your user has no role that allows this on this node: ask the node's administrator to add your user name to the [roles] section of divexd.conf and reload the daemon"),
	E(DX_EAMBIGUOUS, "that id prefix names more than one message: give more hex digits"),
	E(DX_ELATE_NOTICE, "a rule 12 notice must reach the implicated States at least 30 days before the meeting, and this one would be later: send it anyway only with --late-reason TEXT, which is recorded and shown to the recipients"),
	E(DX_ENO_CONSENT, "the provider's consent for this use of the item is missing, refused or revoked (rule 16): ask for it with 'divex consent request' and export once it is granted"),
};
#undef E

static const struct errdesc *find(int err)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code == err) {
			return &table[i];
		}
	}
	return NULL;
}

const char *dx_strerror(int err)
{
	const struct errdesc *d = find(err);
	return d != NULL ? d->text : "unknown error (this is a bug in divex; please report it)";
}

const char *dx_errname(int err)
{
	const struct errdesc *d = find(err);
	return d != NULL ? d->name : "DX_EUNKNOWN";
}

int dx_from_errno(int e)
{
	switch (e) {
	case 0:
		return DX_OK;
	case ENOMEM:
		return DX_ENOMEM;
	case ENOENT:
		return DX_ENOENT;
	case EEXIST:
		return DX_EEXIST;
	case EINVAL:
		return DX_EINVAL;
	case EFBIG:
		return DX_ETOOBIG;
	case ENOSPC:
	case EDQUOT:
		return DX_ENOSPC;
	case ELOOP:
	case ENOTDIR:
	case EISDIR:
		return DX_EINVAL;
	default:
		return DX_EIO;
	}
}
