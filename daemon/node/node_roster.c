/*
 * node_roster.c: the roster mirror, this State's prekeys, and checkpoints.
 *
 * Roster: every roster_sync_ms the node asks the relay for entries logged
 * since the last one it holds, verifies each self-signature and mirrors it
 * (node_store_roster_put pins the first key seen for a State; an entry
 * under another key is kept as a pending change, logged loudly, and sealing
 * to that State is refused until a person accepts the change with `divex
 * keys verify`). The relay can hide an entry but cannot forge one.
 *
 * Prekeys: once an hour (and at start) the node rotates its prekey when the
 * current one has less than half its period left, erases private halves
 * past the grace period, rewrites the key file, rebuilds its roster entry
 * (keeping its name and contacts) and publishes it. An entry the relay does
 * not hold yet is published again until it is.
 *
 * Checkpoints: every checkpoint the relay client adopts is stored; every
 * alarm (from the client, or from comparing a checkpoint a peer carried) is
 * logged with both signed texts, remembered for `divex status`, and kept in
 * the store when it contradicts the store's own history.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "keyfile.h"
#include "node.h"
#include "roster.h"

#define PREKEY_CHECK_MS (60ull * 60 * 1000)

/* ---- alarms and checkpoints ---- */

static const char *alarm_kind(int code)
{
	return code == DX_EPROOF ? "proof" : "inconsistent";
}

/* A signed note on one line, for the log: newlines shown as " | ". */
static void one_line(char *out, size_t size, const char *text, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			if (i + 1 < len) {
				memcpy(out + o, " | ", 3);
				o += 3;
			}
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			out[o++] = '?';
		}
	}
	out[o] = '\0';
}

void node_alarm(struct node *n, int code, const char *source, const char *held, size_t held_len,
		const char *offered, size_t offered_len)
{
	char a[2 * CHECKPOINT_MAX], b[2 * CHECKPOINT_MAX];
	struct checkpoint cp;
	uint64_t now = dx_now_ms();
	one_line(a, sizeof(a), held, held_len);
	one_line(b, sizeof(b), offered, offered_len);
	/* A forked relay contradicts every later answer: one loud line per minute. */
	int loud = n->alarm_logged_ms == 0 || now - n->alarm_logged_ms >= 60000;
	node_log(n, loud ? NODE_LOG_ERROR : NODE_LOG_DEBUG,
		 "ALARM (%s, from %s): the relay has signed two checkpoints that cannot both be "
		 "true; this is evidence that it shows different histories to different States. "
		 "Tell the Secretariat and the other States. first: %s; second: %s",
		 alarm_kind(code), source, a, b);
	if (loud) {
		n->alarm_logged_ms = now;
	}
	struct node_alarm *al;
	if (n->n_alarms < NODE_ALARMS_MAX) {
		al = &n->alarms[n->n_alarms++];
	} else {
		al = &n->alarms[NODE_ALARMS_MAX - 1];
	}
	al->code = code;
	al->seen_ms = now;
	snprintf(al->source, sizeof(al->source), "%s", source);
	al->held_len = held_len <= CHECKPOINT_MAX ? held_len : 0;
	memcpy(al->held, held, al->held_len);
	al->offered_len = offered_len <= CHECKPOINT_MAX ? offered_len : 0;
	memcpy(al->offered, offered, al->offered_len);
	/*
	 * The store keeps the pair for good when it contradicts its own history.
	 * From the relay, the refused checkpoint is the second; from elsewhere the
	 * first, and only when it is not larger than the latest held (a larger one
	 * would become the latest).
	 */
	int from_relay = strcmp(source, "relay") == 0;
	const char *text = from_relay ? offered : held;
	size_t len = from_relay ? offered_len : held_len;
	struct node_store_checkpoint latest;
	if (checkpoint_parse_verify((const uint8_t *)text, len, n->relay.name, n->relay.name,
				    n->relay.pk, &cp) != DX_OK) {
		return;
	}
	if (!from_relay) {
		if (node_store_checkpoint_latest(n->store, &latest) != DX_OK) {
			return;
		}
		uint64_t held_size = latest.size;
		node_store_checkpoint_fini(&latest);
		if (cp.size > held_size) {
			return;
		}
	}
	int rc = node_store_checkpoint_put(n->store, cp.size, cp.root, (const uint8_t *)text, len,
					   source);
	if (rc != DX_OK && rc != DX_ELOG_INCONSISTENT) {
		node_log(n, NODE_LOG_ERROR, "storing the alarm's checkpoint: %s", dx_strerror(rc));
	}
}

struct peer_cp {
	struct node *n;
	char source[NODE_STORE_SOURCE_MAX + 1];
};

static void on_peer_proved(void *arg, int rc, const char *given, size_t given_len,
			   const char *current, size_t current_len)
{
	struct peer_cp *p = arg;
	struct node *n = p->n;
	if (given != NULL) {
		node_alarm(n, rc, p->source, given, given_len, current, current_len);
	} else if (rc != DX_OK && rc != DX_ECLOSED) {
		node_log(n, NODE_LOG_DEBUG, "could not compare the checkpoint of %s: %s", p->source,
			 dx_strerror(rc));
	}
	free(p);
}

void node_roster_peer_checkpoint(struct node *n, const char *peer, const uint8_t *text,
				 size_t len)
{
	struct peer_cp *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return;
	}
	p->n = n;
	snprintf(p->source, sizeof(p->source), "envelope from %s", peer);
	int rc = relay_client_prove(n->rc, text, len, on_peer_proved, p);
	if (rc != DX_OK) {
		/* Not signed by the relay: a peer's junk proves nothing against anyone. */
		node_log(n, NODE_LOG_WARN, "the checkpoint carried by an envelope from %s: %s", peer,
			 dx_strerror(rc));
		free(p);
	}
}

/* ---- the mirror ---- */

static int load_entry(struct node *n, const char *state, struct node_store_roster_info *info,
		      struct roster_entry **out)
{
	uint8_t *entry = NULL;
	size_t len = 0;
	int rc = node_store_roster_get(n->store, state, info, &entry, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = roster_entry_verify(entry, len, out);
	free(entry);
	if (rc == DX_OK && sodium_memcmp((*out)->identity_pk, info->identity_pk,
					 KEYS_SIGN_PK_LEN) != 0) {
		roster_entry_free(*out);
		rc = DX_ESIG;
	}
	return rc;
}

int node_roster_peer(struct node *n, const char *state, uint64_t now_ms, struct seal_peer *out)
{
	struct node_store_roster_info info;
	struct roster_entry *e = NULL;
	int rc = load_entry(n, state, &info, &e);
	if (rc != DX_OK) {
		return rc;
	}
	if (info.has_pending) {
		rc = DX_EKEY_CHANGED;
	} else if (info.status == RELAY_STATUS_SUSPENDED) {
		rc = DX_ESUSPENDED;
	} else {
		const struct roster_prekey *pk = roster_entry_current_prekey(e, now_ms);
		if (pk == NULL) {
			rc = DX_EPREKEY_EXPIRED;
		} else {
			memset(out, 0, sizeof(*out));
			memcpy(out->state, e->state, sizeof(out->state));
			memcpy(out->identity_pk, e->identity_pk, KEYS_SIGN_PK_LEN);
			memcpy(out->static_pk, e->static_pk, KEYS_DH_PK_LEN);
			memcpy(out->prekey_pk, pk->pk, KEYS_DH_PK_LEN);
		}
	}
	roster_entry_free(e);
	return rc;
}

int node_roster_lookup_sender(void *ctx, const char *state,
			      const uint8_t identity_id[static KEYS_ID_LEN], struct seal_peer *out)
{
	struct node *n = ctx;
	struct node_store_roster_info info;
	struct roster_entry *e = NULL;
	if (load_entry(n, state, &info, &e) != DX_OK) {
		return DX_ESENDER;
	}
	int rc = DX_OK;
	if (sodium_memcmp(e->identity_id, identity_id, KEYS_ID_LEN) != 0) {
		rc = DX_ESENDER;
	} else {
		memset(out, 0, sizeof(*out));
		memcpy(out->state, e->state, sizeof(out->state));
		memcpy(out->identity_pk, e->identity_pk, KEYS_SIGN_PK_LEN);
		memcpy(out->static_pk, e->static_pk, KEYS_DH_PK_LEN);
	}
	roster_entry_free(e);
	return rc;
}

static void mirror(struct node *n, const struct relay_roster_item *it)
{
	struct roster_entry *e = NULL;
	char fp[KEYS_FP_STR_LEN];
	int rc = roster_entry_verify(it->signed_entry, it->entry_len, &e);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "the relay served a roster entry (log index %llu) that "
			 "does not verify: %s; ignored",
			 (unsigned long long)it->log_index, dx_strerror(rc));
		return;
	}
	rc = node_store_roster_put(n->store, e->state, it->signed_entry, it->entry_len,
				   e->identity_pk, it->status, it->log_index);
	if (rc == DX_EKEY_CHANGED) {
		keys_fingerprint(fp, e->state, e->identity_pk);
		node_log(n, NODE_LOG_WARN,
			 "KEY CHANGE: the roster now gives %s a new identity key (fingerprint %s). "
			 "Nothing will be sealed to %s until a point of contact compares this "
			 "fingerprint with %s out of band and runs 'divex keys verify %s "
			 "FINGERPRINT'",
			 e->state, fp, e->state, e->state, e->state);
	} else if (rc != DX_OK && rc != DX_EDUPLICATE_ENTRY) {
		node_log(n, NODE_LOG_ERROR, "mirroring the roster entry of %s: %s", e->state,
			 dx_strerror(rc));
	}
	roster_entry_free(e);
}

/* Is the entry the relay holds for us the one our keys would build now? */
static int own_entry_current(struct node *n)
{
	struct node_store_roster_info info;
	struct roster_entry *e = NULL;
	if (load_entry(n, keys_state(n->keys), &info, &e) != DX_OK) {
		return 0;
	}
	const struct keys_prekey *cur = keys_prekey_current(n->keys, dx_now_ms());
	int ok = 0;
	for (size_t i = 0; cur != NULL && i < e->n_prekeys; i++) {
		if (memcmp(e->prekeys[i].id, cur->id, KEYS_ID_LEN) == 0) {
			ok = 1;
		}
	}
	roster_entry_free(e);
	return ok;
}

static void publish(struct node *n);

static void on_roster(void *arg, int rc, const struct relay_roster_item *items, size_t count,
		      int more)
{
	struct node *n = arg;
	n->roster_active = 0;
	node_relay_result(n, rc);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_DEBUG, "roster sync: %s", dx_strerror(rc));
		return;
	}
	for (size_t i = 0; i < count; i++) {
		mirror(n, &items[i]);
		if (items[i].log_index >= n->roster_since) {
			n->roster_since = items[i].log_index + 1;
		}
	}
	if (more && count > 0) {
		/* A page of a longer roster: the next one at once. */
		node_roster_sync(n);
		return;
	}
	if (!n->stopping && (n->publish_needed || !own_entry_current(n))) {
		publish(n);
	}
	/* An entry may have made queued messages sealable. */
	node_outbox_kick(n);
}

void node_roster_sync(struct node *n)
{
	if (n->stopping || n->roster_active) {
		return;
	}
	int rc = relay_client_roster(n->rc, n->roster_since, 0, on_roster, n);
	if (rc == DX_OK) {
		n->roster_active = 1;
	}
}

/* ---- prekeys and our entry ---- */

static void on_published(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct node *n = arg;
	n->publish_active = 0;
	node_relay_result(n, rc);
	if (rc == DX_OK) {
		n->publish_needed = 0;
		node_log(n, NODE_LOG_INFO, "published this State's roster entry (leaf %llu)",
			 (unsigned long long)r->leaf_index);
		node_roster_sync(n);
	} else {
		node_log(n, NODE_LOG_WARN, "publishing this State's roster entry: %s (tried again "
			 "at the next roster sync)", dx_strerror(rc));
	}
}

/*
 * Our entry from the keys, with the name of the one published before and
 * either the given contacts or, when given is NULL, its contacts.
 */
static int build_entry(struct node *n, const struct roster_contact *given, size_t n_given,
		       uint8_t **out, size_t *len)
{
	struct roster_contact contacts[ROSTER_MAX_CONTACTS];
	struct roster_entry *old = NULL;
	struct node_store_roster_info info;
	size_t n_contacts = 0;
	const char *name = keys_state(n->keys);
	if (load_entry(n, keys_state(n->keys), &info, &old) == DX_OK) {
		n_contacts = roster_entry_contacts(old, contacts, ROSTER_MAX_CONTACTS);
		if (old->name != NULL && old->name[0] != '\0') {
			name = old->name;
		}
	}
	if (given != NULL) {
		n_contacts = n_given;
	}
	int rc = roster_entry_build(n->keys, name, given != NULL ? given : contacts, n_contacts,
				    dx_now_ms(), out, len);
	roster_entry_free(old);
	return rc;
}

/* Writes the enrollment file and publishes entry (publish_needed stays set until it lands). */
static int publish_entry(struct node *n, const uint8_t *entry, size_t len)
{
	char path[NODE_CONFIG_PATH_MAX + 32];
	/* The enrollment file follows, for the Secretariat and for `divex entry show`. */
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_ENROLLMENT_FILE);
	if (dx_write_file_atomic(path, entry, len, 0644, 1) != DX_OK) {
		node_log(n, NODE_LOG_WARN, "could not rewrite %s", path);
	}
	int rc = relay_client_publish(n->rc, entry, len, on_published, n);
	if (rc == DX_OK) {
		n->publish_active = 1;
	}
	return rc;
}

static void publish(struct node *n)
{
	uint8_t *entry = NULL;
	size_t len = 0;
	if (n->publish_active) {
		return;
	}
	int rc = build_entry(n, NULL, 0, &entry, &len);
	if (rc == DX_OK) {
		rc = publish_entry(n, entry, len);
	}
	free(entry);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "publishing this State's roster entry: %s",
			 dx_strerror(rc));
	}
}

int node_roster_set_contacts(struct node *n, const struct roster_contact *contacts, size_t count)
{
	uint8_t *entry = NULL;
	size_t len = 0;
	if (n->publish_active) {
		return DX_EBUSY;
	}
	int rc = build_entry(n, contacts, count, &entry, &len);
	if (rc == DX_OK) {
		n->publish_needed = 1;
		rc = publish_entry(n, entry, len);
	}
	free(entry);
	if (rc == DX_OK) {
		node_log(n, NODE_LOG_INFO, "publishing this State's %zu contact record(s)", count);
	}
	return rc;
}

static int save_keys(struct node *n)
{
	char path[NODE_CONFIG_PATH_MAX + 32];
	struct keyfile_kdf kdf;
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_KEY_FILE);
	/* The cost the State chose when it created the file is kept. */
	int rc = keyfile_read_kdf(path, &kdf);
	if (rc == DX_OK) {
		rc = keyfile_write(path, n->keys, n->pass.buf, n->pass.len, &kdf, 1);
	}
	return rc;
}

int node_roster_rotate_prekey(struct node *n)
{
	uint64_t now = dx_now_ms(), period = n->cfg.prekey_period_days * KEYS_DAY_MS;
	int rc = keys_rotate_prekey(n->keys, now, period);
	if (rc != DX_OK) {
		return rc;
	}
	/* The new prekey is used only once the key file that holds it is on disk. */
	if ((rc = save_keys(n)) != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "rewriting the key file after a prekey rotation: %s",
			 dx_strerror(rc));
		return rc;
	}
	node_log(n, NODE_LOG_INFO, "rotated the prekey; publishing the new roster entry");
	n->publish_needed = 1;
	publish(n);
	return DX_OK;
}

static void prekey_check(struct node *n)
{
	uint64_t now = dx_now_ms(), period = n->cfg.prekey_period_days * KEYS_DAY_MS;
	const struct keys_prekey *cur = keys_prekey_current(n->keys, now);
	if (cur == NULL || cur->valid_until_ms - now < period / 2) {
		if (node_roster_rotate_prekey(n) != DX_OK) {
			return;
		}
	}
	int erased = keys_erase_expired_prekeys(n->keys, now,
						n->cfg.prekey_grace_days * KEYS_DAY_MS);
	if (erased > 0) {
		int rc = save_keys(n);
		node_log(n, rc == DX_OK ? NODE_LOG_INFO : NODE_LOG_ERROR,
			 "erased %d retired prekey(s) past the grace period%s", erased,
			 rc == DX_OK ? "" : "; rewriting the key file failed");
	}
}

static void on_roster_tick(uv_timer_t *t)
{
	node_roster_sync(t->data);
}

static void on_prekey_tick(uv_timer_t *t)
{
	prekey_check(t->data);
}

int node_roster_start(struct node *n)
{
	if (uv_timer_init(n->loop, &n->roster_timer) != 0 ||
	    uv_timer_init(n->loop, &n->prekey_timer) != 0) {
		return DX_EINTERNAL;
	}
	n->roster_timer.data = n;
	n->prekey_timer.data = n;
	if (uv_timer_start(&n->roster_timer, on_roster_tick, 0, n->cfg.roster_sync_ms) != 0 ||
	    uv_timer_start(&n->prekey_timer, on_prekey_tick, 0, PREKEY_CHECK_MS) != 0) {
		return DX_EINTERNAL;
	}
	return DX_OK;
}

int node_roster_busy(const struct node *n)
{
	return n->roster_active || n->publish_active;
}

void node_roster_stop(struct node *n)
{
	if (n->roster_timer.loop == NULL) {
		return; /* never started */
	}
	uv_timer_stop(&n->roster_timer);
	uv_timer_stop(&n->prekey_timer);
	uv_close((uv_handle_t *)&n->roster_timer, NULL);
	uv_close((uv_handle_t *)&n->prekey_timer, NULL);
}
