/*
 * consent_rules.c: which consent an export needs and whether the verified
 * decisions at hand give it (see consent.h). The table and the treaty
 * wording it rests on are in docs/casework-rules.md; keep the two in step.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "casework.pb-c.h"
#include "consent.h"
#include "wire.pb-c.h"

const char *consent_use_name(enum consent_use use)
{
	switch (use) {
	case CONSENT_USE_NATIONAL:
		return "national";
	case CONSENT_USE_OPERATIONAL:
		return "operational";
	case CONSENT_USE_DISCLOSURE:
		return "disclosure";
	case CONSENT_USE_BRIEFING:
		return "briefing";
	}
	return "unknown";
}

const char *consent_purpose_name(int purpose)
{
	switch (purpose) {
	case DX__CONSENT_PURPOSE__OPERATIONAL_USE:
		return "OPERATIONAL_USE";
	case DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY:
		return "DISCLOSURE_TO_BODY";
	case DX__CONSENT_PURPOSE__ATTRIBUTABLE_BRIEFING:
		return "ATTRIBUTABLE_BRIEFING";
	case DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION:
		return "FURTHER_DISSEMINATION";
	default:
		return "PURPOSE_UNSPECIFIED";
	}
}

const char *consent_outcome_name(int outcome)
{
	switch (outcome) {
	case DX__CONSENT_OUTCOME__GRANTED:
		return "GRANTED";
	case DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS:
		return "GRANTED_WITH_CONDITIONS";
	case DX__CONSENT_OUTCOME__REFUSED:
		return "REFUSED";
	case DX__CONSENT_OUTCOME__REVOKED:
		return "REVOKED";
	default:
		return "OUTCOME_UNSPECIFIED";
	}
}

int consent_required(int handling, enum consent_use use)
{
	switch (use) {
	case CONSENT_USE_NATIONAL:
		/*
		 * Rule 16 lets a recipient share within its competent national
		 * authorities; H2 and H3 (and any code this version does not know)
		 * take that freedom away.
		 */
		if (handling == DX__HANDLING_CODE__HANDLING_UNSPECIFIED ||
		    handling == DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY ||
		    handling == DX__HANDLING_CODE__H1_NO_JUDICIAL_USE) {
			return 0;
		}
		return DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION;
	case CONSENT_USE_OPERATIONAL:
		return DX__CONSENT_PURPOSE__OPERATIONAL_USE;
	case CONSENT_USE_DISCLOSURE:
		return DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY;
	case CONSENT_USE_BRIEFING:
		return DX__CONSENT_PURPOSE__ATTRIBUTABLE_BRIEFING;
	}
	return DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION;
}

static const char *handling_name(int handling)
{
	static const char *const names[] = { "none", "H0", "H1", "H2", "H3" };
	return handling >= 0 && handling <= DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS ? names[handling]
										 : "unknown";
}

/* "for disclosure to <body>", with the body escaped: it is shown to the officer. */
static void describe_use(char *out, size_t size, const struct consent_query *q)
{
	char body[CONSENT_BODY_MAX * 4 + 1];
	switch (q->use) {
	case CONSENT_USE_NATIONAL:
		snprintf(out, size, "to competent national authorities (handling code %s)",
			 handling_name(q->handling));
		return;
	case CONSENT_USE_OPERATIONAL:
		snprintf(out, size, "for operational use");
		return;
	case CONSENT_USE_DISCLOSURE:
		dx_escape(body, sizeof(body), q->body, strlen(q->body));
		snprintf(out, size, "for disclosure to %s", body);
		return;
	case CONSENT_USE_BRIEFING:
		snprintf(out, size, "for an attributable briefing");
		return;
	}
	snprintf(out, size, "for an unknown use");
}

static void utc_date(char out[static 11], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) != 10) {
		snprintf(out, 11, "?");
	}
}

/* Higher is more restrictive: it wins a tie of decided_ms. */
static int severity(int outcome)
{
	switch (outcome) {
	case DX__CONSENT_OUTCOME__GRANTED:
		return 1;
	case DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS:
		return 2;
	case DX__CONSENT_OUTCOME__REFUSED:
		return 3;
	default:
		return 4;
	}
}

static int matches(const struct consent_query *q, int purpose, const struct consent_decision *d)
{
	if (d == NULL || d->purpose != purpose || strcmp(d->provider, q->provider) != 0 ||
	    strcmp(d->recipient, q->recipient) != 0 || !consent_decision_covers(d, q->item)) {
		return 0;
	}
	if (purpose == DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY && strcmp(d->body, q->body) != 0) {
		return 0;
	}
	/* A decision dated in the future is not taken into account yet. */
	return q->now_ms > UINT64_MAX - CONSENT_CLOCK_SKEW_MS ||
	       d->decided_ms <= q->now_ms + CONSENT_CLOCK_SKEW_MS;
}

static const struct consent_decision *newest(const struct consent_query *q, int purpose,
					     const struct consent_decision *const *d, size_t n)
{
	const struct consent_decision *best = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!matches(q, purpose, d[i])) {
			continue;
		}
		if (best == NULL || d[i]->decided_ms > best->decided_ms ||
		    (d[i]->decided_ms == best->decided_ms &&
		     severity(d[i]->outcome) > severity(best->outcome))) {
			best = d[i];
		}
	}
	return best;
}

int consent_allows(const struct consent_query *q, const struct consent_decision *const *d,
		   size_t n, struct consent_verdict *out)
{
	char use[CONSENT_BODY_MAX * 4 + 96], date[11];
	memset(out, 0, sizeof(*out));
	if (!dx_state_valid(q->provider) || !dx_state_valid(q->recipient) ||
	    (q->use == CONSENT_USE_DISCLOSURE && (q->body == NULL || q->body[0] == '\0'))) {
		snprintf(out->message, sizeof(out->message), "invalid consent query");
		return DX_EINVAL;
	}
	describe_use(use, sizeof(use), q);
	out->purpose = consent_required(q->handling, q->use);
	if (out->purpose == 0) {
		snprintf(out->message, sizeof(out->message),
			 "export %s needs no consent: rule 16 allows sharing within competent "
			 "national authorities",
			 use);
		return DX_OK;
	}
	const char *p = consent_purpose_name(out->purpose);
	const struct consent_decision *best = newest(q, out->purpose, d, n);
	out->decision = best;
	if (best == NULL) {
		snprintf(out->message, sizeof(out->message),
			 "export %s needs %s's consent for %s on this item; ask with 'divex "
			 "consent request'",
			 use, q->provider, p);
		return DX_ENO_CONSENT;
	}
	utc_date(date, best->decided_ms);
	switch (best->outcome) {
	case DX__CONSENT_OUTCOME__GRANTED:
		snprintf(out->message, sizeof(out->message),
			 "export %s allowed: %s granted consent for %s on this item on %s", use,
			 q->provider, p, date);
		return DX_OK;
	case DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS:
		out->conditions = best->conditions;
		snprintf(out->message, sizeof(out->message),
			 "export %s allowed: %s granted consent for %s on this item on %s, with "
			 "conditions that go with the export",
			 use, q->provider, p, date);
		return DX_OK;
	default:
		snprintf(out->message, sizeof(out->message),
			 "export %s needs %s's consent for %s on this item, and %s %s it on %s; "
			 "ask again with 'divex consent request'",
			 use, q->provider, p, q->provider,
			 best->outcome == DX__CONSENT_OUTCOME__REFUSED ? "refused" : "revoked", date);
		return DX_ENO_CONSENT;
	}
}
