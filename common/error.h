/*
 * error.h: the one error enum of divex.
 *
 * Every function that can fail returns int: 0 on success or a negative DX_E*
 * code. Codes from errno, libsodium, libuv and nng are mapped at the boundary
 * where they arise; nothing above that boundary sees a foreign code. Each code
 * has a sentence, from dx_strerror(), that tells the user what happened and
 * what to do next. Codes are part of the CLI's contract (they appear in --json
 * output by name), so a code's number and name never change once released.
 */
#ifndef DIVEX_COMMON_ERROR_H
#define DIVEX_COMMON_ERROR_H

#define DX_MUST_CHECK __attribute__((warn_unused_result))

enum dx_err {
	DX_OK = 0,
	/* Generic. */
	DX_ENOMEM = -1,
	DX_EIO = -2,
	DX_EINVAL = -3,
	DX_EPARSE = -4,
	DX_ETOOBIG = -5,
	DX_ENOENT = -6,
	DX_EEXIST = -7,
	DX_ECRYPTO = -8,
	DX_ESTATE_CODE = -9,
	DX_ENOSPC = -10,
	/* Key files and passphrases. */
	DX_EKEYFILE_PERM = -20,
	DX_EPASSPHRASE = -21,
	DX_EKEYFILE_CORRUPT = -22,
	DX_EKEYFILE_VERSION = -23,
	DX_ENO_PASSPHRASE = -24,
	/* Signatures over keys and roster entries. */
	DX_ESIG = -30,
	DX_EROSTER = -31,
	/* Opening an envelope. */
	DX_ESUITE = -40,
	DX_ERECIPIENT = -41,
	DX_EPREKEY_UNKNOWN = -42,
	DX_EPREKEY_ERASED = -43,
	DX_EPREKEY_EXPIRED = -44,
	DX_EOUTER_SIG = -45,
	DX_EINNER_SIG = -46,
	DX_EDECRYPT = -47,
	DX_EREPLAY = -48,
	DX_ECOMMIT = -49,
	DX_EDH = -50,
	DX_ESTALE = -51,
	DX_ESENDER = -52,
	/* Attachments. */
	DX_EATT_TRUNCATED = -60,
	DX_EATT_CORRUPT = -61,
	DX_EATT_TRAILING = -62,
	DX_EATT_HASH = -63,
	/* The audit log. */
	DX_EPROOF = -70,
	DX_ELOG_INCONSISTENT = -71,
	/* Talking to a peer over nng. */
	DX_ETIMEDOUT = -80,
	DX_ECLOSED = -81,
	DX_EUNREACHABLE = -82,
	DX_ETLS = -83,
	DX_EBUSY = -84,
	/* Refusals by the relay. */
	DX_ENOT_MEMBER = -90,
	DX_ESUSPENDED = -91,
	DX_EREQ_REPLAY = -92,
	DX_EREQ_STALE = -93,
	DX_EREQ_SIG = -94,
	DX_EQUOTA = -95,
	DX_ERATE = -96,
	DX_ENOT_RECIPIENT = -97,
	DX_EDUPLICATE_ENTRY = -98,
	DX_EINTERNAL = -99,
	DX_ESESSION = -101,
	/* The roster mirror on a node. */
	DX_EKEY_CHANGED = -100,
	/* Local control socket (CLI <-> divexd). */
	DX_ENODAEMON = -110,
	DX_EFORBIDDEN = -111,
	DX_EAMBIGUOUS = -112,
	/* Casework rules (docs/casework-rules.md). */
	DX_ELATE_NOTICE = -120,
	DX_ENO_CONSENT = -121,
};

/* A sentence describing the error and what to do about it. Never NULL. */
const char *dx_strerror(int err);
/* The stable symbolic name of the code ("DX_EDECRYPT"), for --json output. */
const char *dx_errname(int err);
/* Maps an errno value to a DX_E* code. */
int dx_from_errno(int e);

#endif
