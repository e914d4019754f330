/*
 * scale_build.c: builds the relay that benchmark 5 runs against: 10,000
 * admitted States and an audit log of 1,000,000 entries.
 *
 *   bench_scale_build HOME [MEMBERS [ENTRIES]]
 *
 * HOME is made with `divex-relay init` and the benchmark's relay.conf (tcp,
 * 4096 contexts); everything else goes through the relay's own code,
 * linked in (relay_open(), relay_roster_admit(), relay_log_append(),
 * relay_log_checkpoint()), on the relay's own schema, but in transactions of
 * many thousands of writes instead of one commit per request:
 *
 *   - MEMBERS States (codes AAA, AAB, ... as bench_state_code() numbers
 *     them, keys from bench_state(code, 0)), each admitted from its
 *     self-signed roster entry: one roster leaf each;
 *   - then filler up to ENTRIES leaves: each an *accepted* leaf over a
 *     made-up envelope between two random members (random digest, id and
 *     salt), with its `envelopes` row as an acknowledged envelope leaves it
 *     (no body, acked_index set), so that mailboxes are empty and the log,
 *     the Merkle node table and the envelope table have the size that a
 *     relay which has carried ~1,000,000 envelopes would have. No
 *     `statements` rows: the fetched and acknowledged leaves a real relay
 *     would also hold are folded into the count of accepted ones;
 *   - one signed checkpoint over the whole log, stored.
 *
 * The relay checks the log against its checkpoint when it starts, so a
 * wrong build would not start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "brelay.h"
#include "relay.h"
#include "relay_server.h"
#include "roster.h"

#define TX_ROWS 50000

static void admit_members(struct relay *r, uint32_t members)
{
	BENCH_CHECK(db_begin(r->db));
	for (uint32_t i = 0; i < members; i++) {
		char code[4], out[4];
		uint8_t *entry = NULL;
		size_t len;
		bench_state_code(i, code);
		struct keys *k = bench_state(code, 0);
		BENCH_CHECK(roster_entry_build(k, code, NULL, 0, dx_now_ms(), &entry, &len));
		BENCH_CHECK(relay_roster_admit(r, entry, len, RELAY_STATUS_PARTY, out));
		free(entry);
		keys_free(k);
	}
	BENCH_CHECK(db_commit(r->db, NULL));
}

static void filler(struct relay *r, uint32_t members, uint64_t entries)
{
	uint64_t now = dx_now_ms();
	size_t in_tx = 0;
	BENCH_CHECK(db_begin(r->db));
	while (r->log.size < entries) {
		uint8_t digest[ENVELOPE_HASH_LEN], id[ENVELOPE_ID_LEN], salt[RELAY_SALT_LEN];
		uint8_t leaf[RELAY_LEAF_MAX];
		char from[4], to[4];
		uint64_t idx, t = now - randombytes_uniform(86400000u);
		sqlite3_stmt *st;
		bench_random(digest, sizeof(digest));
		bench_random(id, sizeof(id));
		bench_random(salt, sizeof(salt));
		bench_state_code(randombytes_uniform(members), from);
		bench_state_code(randombytes_uniform(members), to);
		size_t n = relay_leaf_accepted(leaf, digest, from, to, salt, t);
		BENCH_CHECK(relay_log_append(r, RELAY_LEAF_ACCEPTED, leaf, n, &idx));
		BENCH_CHECK(db_stmt(
			r->db,
			"INSERT INTO envelopes (digest, envelope_id, sender, recipient, body,"
			" size, received_ms, salt, accepted_index, fetched_index,"
			" acked_index) VALUES (?, ?, ?, ?, NULL, 1100, ?, ?, ?, ?, ?)",
			&st));
		sqlite3_bind_blob(st, 1, digest, sizeof(digest), SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, id, sizeof(id), SQLITE_STATIC);
		sqlite3_bind_text(st, 3, from, DX_STATE_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, to, DX_STATE_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)t);
		sqlite3_bind_blob(st, 6, salt, sizeof(salt), SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)idx);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)idx);
		sqlite3_bind_int64(st, 9, (sqlite3_int64)idx);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		BENCH_CHECK(rc != SQLITE_DONE);
		if (++in_tx == TX_ROWS) {
			BENCH_CHECK(db_commit(r->db, NULL));
			BENCH_CHECK(db_begin(r->db));
			in_tx = 0;
		}
	}
	BENCH_CHECK(db_commit(r->db, NULL));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_scale_build HOME [MEMBERS [ENTRIES]]\n");
		return 2;
	}
	uint32_t members = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
	uint64_t entries = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
	BENCH_CHECK(members < 2 || members > RELAY_STATE_SLOTS || entries < members);
	struct brelay br;
	struct brelay_opts o = { .contexts = 4096, .longpoll_max_ms = 30000, .home = argv[1] };
	struct relay r;
	char err[256] = "";
	BENCH_CHECK(sodium_init() < 0);
	BENCH_CHECK(brelay_init(&br, &o));
	uint64_t t0 = bench_now_ns();
	int rc = relay_open(&r, br.home, err, sizeof(err));
	if (rc != DX_OK) {
		fprintf(stderr, "bench_scale_build: %s: %s\n", err, dx_strerror(rc));
		return 1;
	}
	admit_members(&r, members);
	uint64_t t1 = bench_now_ns();
	filler(&r, members, entries);
	BENCH_CHECK(relay_log_checkpoint(&r));
	BENCH_CHECK(relay_log_store_checkpoint(&r));
	uint64_t size = r.log.size;
	relay_close(&r);
	printf("built %s: %u members admitted in %.1f s, %llu log entries in %.1f s more\n",
	       br.home, members, (double)(t1 - t0) / 1e9, (unsigned long long)size,
	       (double)(bench_now_ns() - t1) / 1e9);
	return 0;
}
