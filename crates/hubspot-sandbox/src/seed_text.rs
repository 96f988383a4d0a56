//! Topic catalogue for seeded support-ticket and note text.
//!
//! The sandbox seeds a fake CRM with tickets and notes. For semantic search
//! (MiniLM embeddings) to have something *true* to find, every generated text
//! is about exactly one known topic, and the topic is recorded alongside it.
//!
//! This module owns:
//! - [`TOPICS`]: the topic list (key, label, product area, default priority);
//! - per-topic template pools (subjects, body sentences, internal notes),
//!   kept as `const` arrays of `&'static str` with `{slot}` placeholders;
//! - [`ticket_text`] / [`note_text`]: deterministic generators. Output depends
//!   only on the RNG passed in (no time, no global state, no hash-map
//!   iteration), so a seeded RNG reproduces the same CRM every run;
//! - [`EVAL_QUERIES`]: labelled retrieval queries for a recall benchmark.
//!
//! Why the wording varies so much: a body is 2-4 sentences sampled without
//! repetition from a pool of synonyms-heavy sentences ("locked out",
//! "login loop", "SAML assertion rejected", ...) and slots are filled from
//! lists (identity providers, amounts, error codes, browsers, plans, ...).
//! Tickets of one topic are therefore not keyword-identical, yet each stays
//! unmistakably about its topic for a human reader. The evaluation queries
//! are written the way a user would type a search, deliberately paraphrased
//! so that no query is copied from any template; a retriever only scores well
//! if it matches meaning rather than exact strings.
//!
//! Topic indices are positions in [`TOPICS`]. [`ticket_text`] and
//! [`note_text`] panic on an index `>= TOPICS.len()`.

use rand::Rng;

/// One support topic. Its position in [`TOPICS`] is the `topic` index taken
/// by [`ticket_text`] and [`note_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// Stable machine key, e.g. `"sso_lockout"`; used by [`EVAL_QUERIES`].
    pub key: &'static str,
    /// Human-readable label, e.g. `"SSO lockout"`.
    pub label: &'static str,
    /// One of: authentication, billing, platform, integrations, data,
    /// mobile, email, onboarding, reporting.
    pub product_area: &'static str,
    /// One of: LOW, MEDIUM, HIGH, URGENT.
    pub default_priority: &'static str,
}

/// All topics. Order matters: the index is the topic id.
pub const TOPICS: &[Topic] = &[
    Topic {
        key: "sso_lockout",
        label: "SSO lockout",
        product_area: "authentication",
        default_priority: "URGENT",
    },
    Topic {
        key: "password_2fa",
        label: "Password reset / 2FA",
        product_area: "authentication",
        default_priority: "MEDIUM",
    },
    Topic {
        key: "billing_dispute",
        label: "Billing dispute",
        product_area: "billing",
        default_priority: "HIGH",
    },
    Topic {
        key: "plan_change_cancellation",
        label: "Plan downgrade / cancellation",
        product_area: "billing",
        default_priority: "MEDIUM",
    },
    Topic {
        key: "service_outage",
        label: "Service outage",
        product_area: "platform",
        default_priority: "URGENT",
    },
    Topic {
        key: "slow_performance",
        label: "Slow performance",
        product_area: "platform",
        default_priority: "MEDIUM",
    },
    Topic {
        key: "feature_request",
        label: "Feature request",
        product_area: "platform",
        default_priority: "LOW",
    },
    Topic {
        key: "data_export",
        label: "Data export",
        product_area: "data",
        default_priority: "LOW",
    },
    Topic {
        key: "gdpr_deletion",
        label: "GDPR / privacy deletion request",
        product_area: "data",
        default_priority: "HIGH",
    },
    Topic {
        key: "api_integration_error",
        label: "API / webhook / integration error",
        product_area: "integrations",
        default_priority: "HIGH",
    },
    Topic {
        key: "mobile_crash",
        label: "Mobile app crash",
        product_area: "mobile",
        default_priority: "HIGH",
    },
    Topic {
        key: "email_deliverability",
        label: "Email deliverability",
        product_area: "email",
        default_priority: "HIGH",
    },
    Topic {
        key: "onboarding_training",
        label: "Onboarding / training request",
        product_area: "onboarding",
        default_priority: "LOW",
    },
    Topic {
        key: "reporting_mismatch",
        label: "Reporting / dashboard numbers wrong",
        product_area: "reporting",
        default_priority: "MEDIUM",
    },
    Topic {
        key: "duplicate_records",
        label: "Duplicate records / merging",
        product_area: "data",
        default_priority: "LOW",
    },
];

/// Index of the topic with `key` in [`TOPICS`], if any.
pub fn topic_index(key: &str) -> Option<usize> {
    TOPICS.iter().position(|t| t.key == key)
}

/// Template pools for one topic; `TEXTS[i]` belongs to `TOPICS[i]`.
struct TopicText {
    key: &'static str,
    subjects: &'static [&'static str],
    bodies: &'static [&'static str],
    notes: &'static [&'static str],
}

const TEXTS: &[TopicText] = &[
    TopicText {
        key: "sso_lockout",
        subjects: &[
            "Entire team locked out after {idp} SSO change",
            "can't sign in with {idp}",
            "SAML assertion rejected when logging in",
            "Login loop after {idp} redirect",
            "SSO broken for {seats} users",
            "URGENT: nobody can log in via single sign-on",
            "{idp} login sends us back to the sign-in page",
            "Invalid SAML response error on {product}",
        ],
        bodies: &[
            "Since {when}, everyone on our {idp} tenant gets bounced back to the login page right after authenticating.",
            "The error reads \"SAML assertion rejected: audience mismatch\" and nobody gets past that screen.",
            "Our IT admin rotated the {idp} signing certificate yesterday and I suspect the new one never made it to your side.",
            "We're stuck in a redirect loop between {idp} and {product} in {browser} on {os}.",
            "About {seats} people are locked out, including {role}, so this is blocking the whole sales floor.",
            "Password login is disabled for our workspace because we enforce SSO, so there's no fallback.",
            "The IdP logs show a successful sign-on, but your side answers with \"Invalid SAML response\".",
            "Could you temporarily let one admin bypass single sign-on so we can fix the configuration?",
            "As far as I know nobody changed anything in the {idp} app settings.",
            "Clearing cookies and trying an incognito window did not help.",
            "It looks like the entity ID in your SP metadata changed after your last release.",
            "Users provisioned through SCIM yesterday can't get in at all, while older accounts still work.",
        ],
        notes: &[
            "Customer confirmed the {idp} signing certificate was rotated; asked them to upload the new cert in SSO settings.",
            "Escalated to tier 2 - SAML audience mismatch for the whole tenant. Enabled a temporary admin bypass.",
            "Walked {role} through re-downloading our SP metadata; login loop resolved once the ACS URL was corrected.",
            "Clock skew on their IdP looks suspicious. Waiting on their IT team to confirm NTP settings.",
            "High-impact lockout ({seats} users). Flagged to the CSM and bumped priority to urgent.",
            "Reproduced the redirect loop with a test {idp} app; engineering ticket filed with the SAML trace attached.",
        ],
    },
    TopicText {
        key: "password_2fa",
        subjects: &[
            "Password reset email never arrives",
            "2FA codes not accepted",
            "lost my phone, can't get past two-factor",
            "Reset link says expired",
            "Authenticator app out of sync after switching phones",
            "Account locked after too many password attempts",
            "SMS verification code not arriving",
            "Need help resetting MFA for a colleague",
        ],
        bodies: &[
            "I requested a password reset three times {when} and nothing has landed in my inbox or junk folder.",
            "The reset link opens but immediately says the token has expired.",
            "My authenticator app keeps generating six-digit codes that your login page rejects as invalid.",
            "I got a new {device} and didn't transfer Google Authenticator, so I have no way to produce a 2FA code.",
            "The SMS verification code takes {duration} to show up, by which point it's no longer valid.",
            "After five wrong attempts the account got locked and the message says to try again later.",
            "I no longer have my backup recovery codes, they were on my old laptop.",
            "Can an admin on our side reset two-factor for {role}, or does that have to go through you?",
            "Happy to verify my identity however you need, I just need to get back into {product}.",
            "The new password meets all the rules but the form keeps saying it doesn't meet the requirements.",
            "This is on {browser} on {os}, and I've tried a private window too.",
        ],
        notes: &[
            "Verified identity via callback to the account owner and reset 2FA; user re-enrolled their authenticator.",
            "Customer confirmed reset emails were being quarantined by their mail gateway. Allow-listed our sender and it worked.",
            "Manually expired the old reset tokens and sent a fresh link.",
            "TOTP drift on the user's phone - told them to enable automatic time sync. Codes accepted afterwards.",
            "Unlocked the account after the lockout window; advised {role} to use the self-serve reset next time.",
            "Escalated to tier 2: SMS codes delayed by several minutes in their region, possible carrier issue.",
        ],
    },
    TopicText {
        key: "billing_dispute",
        subjects: &[
            "Charged twice this month",
            "Invoice {invoice} is wrong",
            "refund request for duplicate payment",
            "Why was my card charged {amount}?",
            "Billed for seats we removed",
            "Disputing a charge on invoice {invoice}",
            "Overcharged after plan change",
            "Need a credit note for incorrect billing",
        ],
        bodies: &[
            "Our corporate card was charged {amount} twice on {date}, and both transactions show as settled.",
            "Invoice {invoice} lists {seats} seats, but we reduced our headcount well before the renewal.",
            "We were billed at the {plan_high} rate even though we moved to a cheaper tier last cycle.",
            "Please refund the duplicate payment of {amount} to the original card.",
            "Our finance team flagged a {amount} line item as something we never agreed to.",
            "The invoice is missing our VAT number, so accounting can't process it.",
            "If this can't be sorted out this week, {role} says we'll have to open a chargeback with the bank.",
            "I've attached the bank statement showing both debits.",
            "Can you send a corrected invoice and a credit note for the difference?",
            "The sales tax on the bill looks like it was calculated for the wrong state.",
            "We were charged for an add-on that was never activated on our account.",
        ],
        notes: &[
            "Confirmed duplicate charge of {amount} in Stripe; refund issued, 5-10 business days to appear.",
            "Customer disputes invoice {invoice}. Sent to billing ops for a credit note.",
            "Seat count on the invoice was pulled before their downgrade took effect. Reissued the invoice.",
            "Escalated to finance: customer threatened a chargeback over the {amount} overage.",
            "Applied a one-time goodwill credit of {amount}; customer accepted.",
            "Added the VAT ID to the billing profile and regenerated invoice {invoice}.",
        ],
    },
    TopicText {
        key: "plan_change_cancellation",
        subjects: &[
            "How do I cancel our subscription?",
            "Downgrade from {plan_high} to {plan_low}",
            "Want to reduce seats at renewal",
            "cancel before auto-renewal please",
            "Questions about pricing for a smaller plan",
            "Switching to monthly billing",
            "We'd like to end our contract",
            "Pause the account instead of cancelling?",
        ],
        bodies: &[
            "We'd like to move from {plan_high} to {plan_low} at the end of the current term.",
            "Our renewal is on {date} and we don't want it to renew automatically.",
            "Budgets got cut this quarter, so {role} asked me to trim what we spend on {product}.",
            "We only actively use about {seats} licenses, so paying for the rest no longer makes sense.",
            "Is there a way to pause the account for a few months rather than cancelling outright?",
            "If we cancel, how long do you keep our records around?",
            "The pricing page shows a lower price than what we're paying, can we get that rate?",
            "Please confirm in writing once the cancellation has been processed.",
            "We're consolidating tools and switching to a competitor, so we won't need the account after this month.",
            "I couldn't find a downgrade button anywhere in the billing settings.",
            "Can we go from annual to monthly billing without a penalty?",
        ],
        notes: &[
            "Customer wants to downgrade to {plan_low} at renewal. Looped in the account manager for a retention call.",
            "Processed cancellation effective end of term; auto-renew turned off.",
            "Churn risk due to budget cuts. Offered {percent} off for 12 months, waiting on a reply.",
            "Explained data retention after cancellation (90 days). Customer will export first.",
            "Reduced seats to {seats} for the next billing cycle at the request of {role}.",
            "Customer asked about pausing; told them we don't offer pauses but can move them to a lower tier.",
        ],
    },
    TopicText {
        key: "service_outage",
        subjects: &[
            "Site down - getting {http5xx} errors",
            "{product} is completely unreachable",
            "is the app down??",
            "Outage in {region}?",
            "Status page says operational but nothing loads",
            "Service unavailable for {duration}",
            "URGENT: production down for our whole team",
            "Everything returns {http5xx}",
        ],
        bodies: &[
            "Every page in {product} has been returning {http5xx} for us since {when}.",
            "Your status page still shows all systems operational, which is frustrating because nothing works.",
            "We've tried from multiple networks and devices, so it's not on our end.",
            "This has been going on for {duration} and our support agents can't work.",
            "The login screen loads, but anything after that times out with a blank white page.",
            "Is there an incident in the {region} region we should know about?",
            "Our own customers are reporting that the portal is down too.",
            "Please share an ETA for a fix, {role} needs to update our customers.",
            "The API is also answering with 503 Service Unavailable, so our integrations are failing as well.",
            "We're on the {plan_high} plan with an uptime SLA and will need an incident report afterwards.",
            "It came back for a few minutes and then dropped again.",
        ],
        notes: &[
            "Linked to the active incident in {region}; customer subscribed to status page updates.",
            "Customer confirmed service restored after the failover. Will send the RCA once published.",
            "Escalated to on-call SRE; customer is on {plan_high} with an SLA, credits may apply.",
            "Outage lasted {duration} for this account. Logged for SLA credit review.",
            "Could not reproduce at first; turned out to be the {region} load balancer. Engineering aware.",
            "Sent the post-incident report to {role}.",
        ],
    },
    TopicText {
        key: "slow_performance",
        subjects: &[
            "Pages taking forever to load",
            "{product} is really sluggish today",
            "slow dashboard load times",
            "Search takes {seconds} seconds",
            "Latency spikes in the afternoon",
            "Performance degraded since last update",
            "Timeouts when opening large lists",
            "Everything feels laggy",
        ],
        bodies: &[
            "Opening a contact record takes {seconds} seconds, where it used to be instant.",
            "The lag is worst between 2 and 5pm our time.",
            "Our reps are complaining that the pipeline view takes ages to render.",
            "I ran a speed test and our connection is fine, other sites load normally.",
            "This started after your release {when} and hasn't improved.",
            "Saving a simple edit spins for a long time before it confirms.",
            "We're seeing it in {browser} on {os} for everyone in the office.",
            "Filtering a list of around {records} records sometimes times out completely.",
            "Browser dev tools show API calls taking over {seconds} seconds to respond.",
            "It's not down, just painfully slow, and it's killing productivity.",
            "Scrolling through the activity timeline stutters and freezes the tab.",
        ],
        notes: &[
            "Customer shared a HAR file; slow responses from the search endpoint. Forwarded to the performance team.",
            "Confirmed a p95 latency regression for accounts in {region}. Tracked in the engineering backlog.",
            "Suggested archiving old records; list views are faster after the cleanup, per {role}.",
            "Could not reproduce the slowness on our side. Asked for browser version and a network trace.",
            "Escalated to tier 2: heavy custom report queries timing out for this portal.",
            "Performance fix deployed; customer confirmed load times are back to normal.",
        ],
    },
    TopicText {
        key: "feature_request",
        subjects: &[
            "Feature request: {feature}",
            "Any plans for {feature}?",
            "would love {feature}",
            "Suggestion for the product roadmap",
            "Idea: {feature}",
            "Is {feature} on the roadmap?",
            "Request: more flexibility with custom fields",
            "Wishlist item from our team",
        ],
        bodies: &[
            "It would be great if {product} supported {feature}.",
            "Our team spends hours every week working around the lack of {feature}.",
            "This came up again in our quarterly review with {role}.",
            "Competitors already offer something similar, so it's becoming a talking point at our renewal.",
            "Ideally we'd be able to add our own custom fields to deals and filter reports by them.",
            "A public API endpoint for bulk updates would save us from clicking through records one by one.",
            "Many of us work late and a dark theme would be much easier on the eyes.",
            "Posting new tickets straight into a Slack channel would really help our on-call rotation.",
            "Is there a public roadmap or a way to upvote requests?",
            "Happy to jump on a call with your product team to explain the use case.",
            "Not urgent at all, just wanted to put it on your radar.",
        ],
        notes: &[
            "Logged a feature request for {feature} on the product feedback board; customer is on {plan_high}.",
            "Customer upvoted the existing request for {feature}. Shared a workaround using workflows.",
            "Passed the use case to the product manager; no ETA committed.",
            "CSM note: {feature} came up as a renewal blocker. Flagged to product.",
            "Told the customer {feature} is in beta; added them to the early access list.",
            "Closed as a feature request; customer is happy to be notified when it ships.",
        ],
    },
    TopicText {
        key: "data_export",
        subjects: &[
            "How do I export all our contacts to CSV?",
            "Need a full backup of our account data",
            "export keeps failing",
            "Export file missing columns",
            "Bulk download of records",
            "GDPR access request - need a copy of my data",
            "Export download link expired",
            "Can we get a {file_format} dump of everything?",
        ],
        bodies: &[
            "We need to pull all {records} contacts out of {product} into a spreadsheet.",
            "The CSV export finishes, but custom properties are missing from the file.",
            "Our auditors have asked for a full backup of the account before {date}.",
            "The export email arrived but the download link had already expired.",
            "Is there a way to schedule a recurring {file_format} export instead of doing it by hand?",
            "One of our customers filed a data subject access request under GDPR, so we need everything stored about them.",
            "Exports over about {records} rows seem to time out and never complete.",
            "We're moving to a data warehouse and need historical activity, not just current records.",
            "Accented characters come out garbled when we open the file in Excel.",
            "Can attachments and notes be included in the export, or is that a separate process?",
            "We need this for a board report that {role} is preparing.",
        ],
        notes: &[
            "Sent instructions for the full account export; customer confirmed they received the {file_format} file.",
            "Export timing out at ~{records} rows. Ran it server-side and shared a secure link.",
            "Customer's DSAR: compiled all data for the contact and sent it via an encrypted link.",
            "Told the customer export links expire after 24h; regenerated a fresh one.",
            "Encoding issue: advised importing the CSV into Excel as UTF-8. Resolved.",
            "Escalated to tier 2: custom properties missing from the export, possible bug.",
        ],
    },
    TopicText {
        key: "gdpr_deletion",
        subjects: &[
            "Right to be forgotten request",
            "Please delete all my personal data",
            "GDPR erasure request for a former customer",
            "remove my info from your systems",
            "Data deletion under Article 17",
            "CCPA delete request",
            "Confirm permanent deletion of contact records",
            "Privacy request: purge data for a departed employee",
        ],
        bodies: &[
            "Under Article 17 of the GDPR, I'm asking you to erase every piece of personal data you hold about me.",
            "A former client has asked us to remove them completely, including email history and call recordings.",
            "Please confirm in writing once the deletion is complete, including backups.",
            "We need this done within the statutory 30-day window.",
            "Our DPO is tracking this request and will need a certificate of deletion.",
            "I unsubscribed months ago but still get messages, so I want my records wiped entirely.",
            "Does deleting the contact in {product} also remove them from your backups and logs?",
            "The person is a California resident, so this falls under CCPA as well.",
            "Please also make sure the data is removed from sub-processors such as {integration}.",
            "The contact ID is attached; there may be duplicates under an old email address.",
            "We've had {seats} similar requests this month and need a bulk way to handle them.",
        ],
        notes: &[
            "Permanently deleted the contact and associated engagements; backups purge within 30 days. Sent confirmation.",
            "Privacy request logged with legal; due date set 30 days from receipt.",
            "Customer's DPO requested a certificate of deletion. Forwarded to the privacy team.",
            "Verified the requester's identity before processing the erasure.",
            "Found {seats} duplicate records for the same person; all included in the deletion.",
            "Escalated to tier 2: deletion needs to cascade to the {integration} sync.",
        ],
    },
    TopicText {
        key: "api_integration_error",
        subjects: &[
            "API returning {api_error}",
            "Webhook not firing",
            "{integration} sync stopped working",
            "rate limited (429) on bulk import",
            "Zapier zap failing with auth error",
            "Integration disconnected overnight",
            "Webhooks delivered with empty payload",
            "OAuth token keeps expiring",
        ],
        bodies: &[
            "Our calls to the REST API started failing with {api_error} {when}, and we haven't touched the code.",
            "The webhook we configured for new deals hasn't fired once since {date}.",
            "Records created in {integration} are no longer syncing into {product}.",
            "We're hitting 429 rate limits even though we're well under the documented quota.",
            "The private app token was regenerated and now every request gets a 401.",
            "The integration shows as connected in settings, but the last successful sync was {duration} ago.",
            "Our endpoint logs show no incoming POST requests from your webhook service.",
            "The OAuth refresh token seems to expire after an hour instead of lasting indefinitely.",
            "Field mapping between {integration} and {product} is dropping the owner field.",
            "I've attached the request ID and response headers from a failing call.",
            "We process around {records} records nightly, so the retries are piling up.",
        ],
        notes: &[
            "Customer's API key was rotated; updated the token in their middleware and calls succeed.",
            "Webhook subscription was paused after repeated 5xx from their endpoint. Re-enabled it.",
            "Rate limit: advised batching and exponential backoff; raised their limit temporarily.",
            "{integration} connector needed re-authorization after the admin changed passwords.",
            "Escalated to tier 2 with request IDs; suspected regression in the sync service.",
            "Field mapping fixed; backfill of {records} records queued.",
        ],
    },
    TopicText {
        key: "mobile_crash",
        subjects: &[
            "App crashes on launch",
            "Phone app closes immediately after update",
            "app keeps crashing on my {device}",
            "Mobile app freezes when opening deals",
            "Crash on {device} after version {app_version}",
            "App force closes when uploading a photo",
            "Mobile app stuck on splash screen",
            "Crash report from our field team",
        ],
        bodies: &[
            "Since updating to version {app_version}, the app closes as soon as I open it on my {device}.",
            "Reinstalling the app on my {device} didn't make any difference.",
            "It freezes for a few seconds and then drops back to the home screen.",
            "Our field reps rely on the mobile app to log visits, so this is a big problem.",
            "The crash happens every time I tap into a contact with a lot of activity.",
            "Attaching a photo from the camera roll makes it quit instantly.",
            "I've submitted the crash log through the in-app feedback option.",
            "The desktop site works fine; it's only the phone app that crashes.",
            "It stays on the splash screen with the spinner forever.",
            "About {seats} people on our team are affected, all on the latest build.",
            "Turning off offline mode seemed to help once, but the crashes came back.",
        ],
        notes: &[
            "Crash reproduced on a {device} with version {app_version}; Crashlytics stack trace attached to the bug.",
            "Customer confirmed the hotfix build resolved the launch crash.",
            "Advised clearing the app cache and reinstalling as a workaround while engineering investigates.",
            "Escalated to the mobile team: crash when loading contacts with a large activity history.",
            "Field team of {seats} affected; suggested the mobile web version as a stopgap.",
            "Waiting on the customer to send device logs from their {device}.",
        ],
    },
    TopicText {
        key: "email_deliverability",
        subjects: &[
            "Our emails are going to spam",
            "High bounce rate on last campaign",
            "DKIM failing for {domain}",
            "emails not being delivered to {esp} users",
            "SPF record question",
            "Sequence emails landing in junk",
            "Hard bounces after domain change",
            "Sender reputation dropped?",
        ],
        bodies: &[
            "Most of our marketing emails to {esp} addresses end up in the spam folder.",
            "Our last campaign had a bounce rate around {percent}, which is way higher than normal.",
            "The DKIM check fails when I look at the raw headers of a message we sent.",
            "We added the SPF include you gave us, but the validator says we now exceed 10 DNS lookups.",
            "We moved our sending domain to {domain} and deliverability has tanked since.",
            "Prospects tell us they never received the follow-up emails from our sales sequences.",
            "Open rates dropped from around 40% to under 10% in a week.",
            "Could our shared IP be on a blocklist?",
            "Is DMARC required, and what policy do you recommend?",
            "The contact list was imported from an old CRM, so there may be some stale addresses.",
            "{esp} shows a banner saying the sender could not be verified.",
        ],
        notes: &[
            "DKIM CNAME records were missing for {domain}; customer added them and authentication passes now.",
            "Bounce rate of {percent} driven by a stale imported list. Recommended list cleaning and a re-permission campaign.",
            "Checked the shared IP pool; no blocklist hits. Suggested warming a dedicated IP.",
            "SPF record was over the 10-lookup limit; helped the customer flatten it.",
            "Escalated to the deliverability team for an {esp} inbox placement review.",
            "Customer confirmed emails are landing in the inbox after setting DMARC to p=none.",
        ],
    },
    TopicText {
        key: "onboarding_training",
        subjects: &[
            "Training session for new hires",
            "Help getting started with {product}",
            "onboarding call request",
            "Can someone walk our team through setup?",
            "Looking for admin training",
            "Best practices for setting up pipelines",
            "Webinar or docs for beginners?",
            "Kickoff for our new {plan_high} account",
        ],
        bodies: &[
            "We just signed up and would love a guided walkthrough for the team.",
            "We have {seats} new sales reps starting on {date} and need them productive quickly.",
            "Is there a recorded webinar or certification course we can point people to?",
            "I'm the new admin and honestly don't know where to start with the settings.",
            "Could we book a 60-minute session covering pipelines, tasks and reporting basics?",
            "Our previous admin left without documenting how anything was configured.",
            "A short how-to for importing contacts and setting up deal stages would help a lot.",
            "We're moving over from {old_tool} and want to follow best practices from day one.",
            "Is onboarding included in the {plan_high} plan or is it a paid add-on?",
            "Mornings Pacific time work best for our team.",
            "We'd like a train-the-trainer session so {role} can teach the rest of the staff.",
        ],
        notes: &[
            "Booked a 60-minute onboarding session with {role}; sent academy links beforehand.",
            "Customer asked about paid onboarding; forwarded to professional services.",
            "Shared the getting-started checklist and the admin certification course.",
            "CSM note: new admin inherited the account and needs a config review. Scheduled a follow-up.",
            "Training completed for {seats} users; customer satisfied, closing.",
            "Recommended the pipeline setup guide and offered weekly office hours.",
        ],
    },
    TopicText {
        key: "reporting_mismatch",
        subjects: &[
            "Dashboard numbers don't match",
            "Revenue report is off",
            "wrong totals in {report}",
            "Report shows a different count than the list view",
            "Discrepancy between dashboard and export",
            "Closed-won figures incorrect",
            "Chart not updating with latest data",
            "Metrics look inflated this month",
        ],
        bodies: &[
            "The numbers in {report} don't match what we get when we count the deals by hand.",
            "Our closed-won total shows {amount}, but finance has a noticeably different figure.",
            "The contact count in the report is higher than the list view with the same filters.",
            "It looks like deals are double counted when they have more than one associated company.",
            "The dashboard hasn't refreshed since {date}, so the figures are stale.",
            "When I export the underlying data and sum it in Excel, the total is different.",
            "We think time zones might be shifting deals into the wrong month.",
            "This is going into the quarterly review that {role} is running, so we need to understand the gap.",
            "Currency conversion seems off for deals in EUR.",
            "Filters on the dashboard appear to be ignored by some widgets.",
            "The conversion rate chart shows over 100% for last week, which can't be right.",
        ],
        notes: &[
            "Discrepancy caused by deals with multiple associations being counted twice; adjusted the report to dedupe.",
            "Dashboard cache was stale; forced a refresh and the numbers match now.",
            "Portal time zone was UTC while the reps are in PST. Explained the month boundary shift.",
            "Escalated to tier 2: report totals differ from the export by {amount}.",
            "Walked {role} through the report filters; one widget had an extra date filter.",
            "Currency conversion rate was outdated; finance updated the exchange rates.",
        ],
    },
    TopicText {
        key: "duplicate_records",
        subjects: &[
            "Tons of duplicate contacts after import",
            "How to merge duplicate companies",
            "dedupe not catching obvious duplicates",
            "Same person appears three times",
            "Merge undone? duplicates are back",
            "Duplicate deals created by {integration}",
            "Cleanup help: duplicated records",
            "Import created copies of existing contacts",
        ],
        bodies: &[
            "After importing our spreadsheet, roughly {records} contacts now exist twice.",
            "The duplicate management tool only suggests a handful of pairs, but we can see many more.",
            "The same person shows up as separate records for their work and personal email.",
            "Every time {integration} syncs, it creates a new copy of the deal instead of updating it.",
            "Is there a way to bulk merge instead of going pair by pair?",
            "We merged a batch of companies last week and some of them have reappeared.",
            "Our reps are calling the same lead twice because they don't realise it's a duplicate.",
            "Matching on company domain would catch most of these, is that configurable?",
            "When we merge, which record's owner and lifecycle stage wins?",
            "The import didn't use email as the unique key, so everything came in as new.",
        ],
        notes: &[
            "Import was mapped without a unique identifier; advised re-importing with email as the key.",
            "Ran a bulk dedupe job for {records} contacts; customer is reviewing the merged results.",
            "{integration} sync creates duplicates because the external ID isn't mapped. Escalated to tier 2.",
            "Explained merge rules (the primary record keeps its owner). Customer satisfied.",
            "Suggested a workflow that flags potential duplicates by domain.",
            "Customer confirmed the duplicates are cleaned up after the merge tool fix.",
        ],
    },
];

/// Labelled evaluation queries: `(query text, topic key)`.
///
/// Written as a user would type a search, paraphrasing the topic rather than
/// copying any template sentence.
pub const EVAL_QUERIES: &[(&str, &str)] = &[
    // sso_lockout
    (
        "employees can't get into the app through single sign-on",
        "sso_lockout",
    ),
    (
        "okta authentication keeps redirecting back to the login screen",
        "sso_lockout",
    ),
    (
        "saml audience mismatch after certificate rotation",
        "sso_lockout",
    ),
    (
        "identity provider login broken for the whole company",
        "sso_lockout",
    ),
    ("azure ad sign on not working, users stuck", "sso_lockout"),
    // password_2fa
    (
        "forgot password and the recovery mail is not coming through",
        "password_2fa",
    ),
    (
        "two factor authentication code rejected after getting a new phone",
        "password_2fa",
    ),
    (
        "how to turn off mfa for a user who lost their device",
        "password_2fa",
    ),
    (
        "account blocked after entering the wrong password several times",
        "password_2fa",
    ),
    ("verification text message never shows up", "password_2fa"),
    // billing_dispute
    (
        "payment taken two times from credit card",
        "billing_dispute",
    ),
    ("money back for an incorrect bill", "billing_dispute"),
    (
        "invoice amount does not match what we agreed",
        "billing_dispute",
    ),
    (
        "overbilled for licenses we no longer use",
        "billing_dispute",
    ),
    (
        "want to contest a charge on our statement",
        "billing_dispute",
    ),
    // plan_change_cancellation
    (
        "stop subscription from renewing automatically",
        "plan_change_cancellation",
    ),
    (
        "move to a cheaper tier with fewer users",
        "plan_change_cancellation",
    ),
    (
        "terminate our account at the end of the contract",
        "plan_change_cancellation",
    ),
    (
        "lower our monthly cost by cutting the number of licenses",
        "plan_change_cancellation",
    ),
    (
        "customer leaving for a competitor wants to cancel",
        "plan_change_cancellation",
    ),
    // service_outage
    (
        "whole platform unavailable, nothing loads",
        "service_outage",
    ),
    (
        "internal server error on every request, is there an incident",
        "service_outage",
    ),
    (
        "downtime affecting all of our users right now",
        "service_outage",
    ),
    (
        "system offline but status dashboard shows green",
        "service_outage",
    ),
    (
        "application not reachable since this morning",
        "service_outage",
    ),
    // slow_performance
    (
        "application has very slow response time",
        "slow_performance",
    ),
    ("takes a long time for records to open", "slow_performance"),
    (
        "high latency and lag when using the web app",
        "slow_performance",
    ),
    (
        "list view loading extremely slowly with many records",
        "slow_performance",
    ),
    (
        "speed got worse after the latest release",
        "slow_performance",
    ),
    // feature_request
    (
        "suggestion to add a night theme to the interface",
        "feature_request",
    ),
    (
        "would like the ability to define our own properties on opportunities",
        "feature_request",
    ),
    (
        "product enhancement idea for the roadmap",
        "feature_request",
    ),
    (
        "asking for a new endpoint in the public api",
        "feature_request",
    ),
    (
        "request to push ticket alerts into a slack channel",
        "feature_request",
    ),
    // data_export
    ("download all records as a spreadsheet", "data_export"),
    (
        "get a complete copy of our account for backup",
        "data_export",
    ),
    (
        "subject access request for a copy of personal information",
        "data_export",
    ),
    (
        "exported file doesn't include custom properties",
        "data_export",
    ),
    (
        "bulk extract data for migration to a warehouse",
        "data_export",
    ),
    // gdpr_deletion
    (
        "erase personal information under the right to erasure",
        "gdpr_deletion",
    ),
    ("user wants their data permanently wiped", "gdpr_deletion"),
    ("privacy law removal request for a contact", "gdpr_deletion"),
    (
        "forget everything stored about this person",
        "gdpr_deletion",
    ),
    (
        "purge customer records and send proof of deletion",
        "gdpr_deletion",
    ),
    // api_integration_error
    (
        "rest calls failing unauthorized after token change",
        "api_integration_error",
    ),
    ("callback url not receiving events", "api_integration_error"),
    (
        "too many requests error when calling the api",
        "api_integration_error",
    ),
    (
        "salesforce connector not syncing records",
        "api_integration_error",
    ),
    (
        "zapier automation broken after reconnecting",
        "api_integration_error",
    ),
    // mobile_crash
    ("phone application shuts down unexpectedly", "mobile_crash"),
    ("iphone app quits right after opening", "mobile_crash"),
    ("android version freezing and closing", "mobile_crash"),
    (
        "mobile client unusable after the latest update",
        "mobile_crash",
    ),
    (
        "app crash when attaching a picture on smartphone",
        "mobile_crash",
    ),
    // email_deliverability
    (
        "messages ending up in junk instead of the inbox",
        "email_deliverability",
    ),
    (
        "lots of undelivered mail bouncing back",
        "email_deliverability",
    ),
    (
        "domain authentication dkim spf setup failing",
        "email_deliverability",
    ),
    (
        "newsletters not reaching gmail recipients",
        "email_deliverability",
    ),
    (
        "email sender reputation and blocklist problems",
        "email_deliverability",
    ),
    // onboarding_training
    (
        "need a tutorial for our new team members",
        "onboarding_training",
    ),
    (
        "schedule a walkthrough of how to use the crm",
        "onboarding_training",
    ),
    (
        "learning resources for first time administrators",
        "onboarding_training",
    ),
    (
        "kickoff session to get started after purchase",
        "onboarding_training",
    ),
    (
        "teach our staff the basics of the tool",
        "onboarding_training",
    ),
    // reporting_mismatch
    ("analytics showing incorrect figures", "reporting_mismatch"),
    (
        "sales totals in the chart don't add up",
        "reporting_mismatch",
    ),
    (
        "kpi widget count differs from actual data",
        "reporting_mismatch",
    ),
    (
        "revenue metrics inaccurate compared with finance",
        "reporting_mismatch",
    ),
    (
        "statistics on the dashboard are out of date",
        "reporting_mismatch",
    ),
    // duplicate_records
    (
        "same contact listed multiple times, how to combine",
        "duplicate_records",
    ),
    ("deduplication of company entries", "duplicate_records"),
    (
        "copies of leads created after a spreadsheet upload",
        "duplicate_records",
    ),
    (
        "merge identical people into one record",
        "duplicate_records",
    ),
];

// ---------------------------------------------------------------------------
// Slot fillers
// ---------------------------------------------------------------------------

const IDPS: &[&str] = &[
    "Okta",
    "Azure AD",
    "Microsoft Entra ID",
    "Google Workspace",
    "OneLogin",
    "Ping Identity",
    "JumpCloud",
];
const PRODUCTS: &[&str] = &[
    "the web app",
    "the admin console",
    "Orbit CRM",
    "Beacon Analytics",
    "Relay Inbox",
    "the customer portal",
    "Atlas Workspace",
];
const INTEGRATIONS: &[&str] = &[
    "Salesforce",
    "Zapier",
    "Slack",
    "Shopify",
    "Stripe",
    "Microsoft Teams",
    "Zendesk",
    "Jira",
    "QuickBooks",
];
const OLD_TOOLS: &[&str] = &[
    "Salesforce",
    "Pipedrive",
    "Zoho CRM",
    "a pile of spreadsheets",
    "an in-house tool",
];
const WHENS: &[&str] = &[
    "this morning",
    "about 9am EST",
    "late last night",
    "on Monday",
    "over the weekend",
    "roughly an hour ago",
    "yesterday afternoon",
];
const DURATIONS: &[&str] = &[
    "about 20 minutes",
    "over two hours",
    "most of the morning",
    "45 minutes",
    "three days",
    "nearly an hour",
];
const DATES: &[&str] = &[
    "March 3",
    "the 1st",
    "June 28",
    "the 14th",
    "October 2",
    "the 30th",
];
const HTTP_5XX: &[&str] = &[
    "500 Internal Server Error",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
];
const API_ERRORS: &[&str] = &[
    "401 Unauthorized",
    "403 Forbidden",
    "429 Too Many Requests",
    "400 Bad Request",
    "422 Unprocessable Entity",
];
const BROWSERS: &[&str] = &[
    "Chrome 124",
    "Firefox",
    "Safari 17",
    "Microsoft Edge",
    "Brave",
];
const OSES: &[&str] = &[
    "Windows 11",
    "macOS Sonoma",
    "Ubuntu 22.04",
    "ChromeOS",
    "Windows 10",
];
/// Device with its OS, so one ticket never pairs an iPhone with Android.
const DEVICES: &[&str] = &[
    "iPhone 15 (iOS 17.4)",
    "iPhone 13 mini (iOS 16.7)",
    "Pixel 8 (Android 14)",
    "Galaxy S22 (Android 13)",
    "iPad Air (iPadOS 17)",
    "OnePlus 11 (Android 14)",
];
const APP_VERSIONS: &[&str] = &["4.12.0", "4.12.1", "5.0.2", "5.1.0", "5.1.3"];
const ROLES: &[&str] = &[
    "our CFO",
    "the head of sales",
    "one of our account executives",
    "our IT admin",
    "the marketing lead",
    "a new SDR",
    "our ops manager",
];
const PLANS_HIGH: &[&str] = &["Professional", "Enterprise", "Growth", "Business"];
const PLANS_LOW: &[&str] = &["Starter", "Basic", "Team", "Free"];
const REGIONS: &[&str] = &["EU", "US-East", "US-West", "APAC"];
const REPORTS: &[&str] = &[
    "the pipeline dashboard",
    "the monthly revenue report",
    "the win-rate chart",
    "the activity leaderboard",
    "the MRR widget",
    "the forecast report",
];
const FEATURES: &[&str] = &[
    "dark mode",
    "custom fields on deals",
    "a bulk update API endpoint",
    "a native Slack integration",
    "recurring tasks",
    "a Kanban view for tickets",
    "SCIM user provisioning",
    "conditional logic in forms",
    "multi-currency support",
];
const FILE_FORMATS: &[&str] = &["CSV", "XLSX", "JSON"];
const DOMAINS: &[&str] = &[
    "mail.northwind.io",
    "globex.co",
    "news.initech.net",
    "acme-mail.com",
    "go.umbrella.org",
];
const MAILBOX_PROVIDERS: &[&str] = &[
    "Gmail",
    "Outlook",
    "Yahoo Mail",
    "Microsoft 365",
    "iCloud Mail",
];
const NAMES: &[&str] = &[
    "Priya", "Marcus", "Jen", "Tomás", "Aiko", "Dave", "Sofia", "Kwame",
];

const GREETINGS: &[&str] = &[
    "Hi team,",
    "Hello,",
    "Hi there,",
    "Hey folks,",
    "Good morning,",
    "Hi support,",
];
const SIGN_OFFS: &[&str] = &[
    "Thanks, {name}",
    "Thanks in advance!",
    "Cheers, {name}",
    "Appreciate any help here.",
    "Best regards, {name}",
    "Thanks so much - {name}",
];

/// Template pools for `topic`; panics if out of range.
fn texts(topic: usize) -> &'static TopicText {
    let text = &TEXTS[topic];
    debug_assert_eq!(text.key, TOPICS[topic].key, "TEXTS out of order");
    text
}

fn pick<R: Rng + ?Sized>(rng: &mut R, list: &[&'static str]) -> &'static str {
    list[rng.gen_range(0..list.len())]
}

/// `1240` -> `"1,240"`.
fn group_thousands(mut n: u64) -> String {
    let mut groups = Vec::new();
    while n >= 1000 {
        groups.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    groups.push(n.to_string());
    groups.reverse();
    groups.join(",")
}

/// Value for one `{slot}`; `None` for an unknown slot name.
fn slot<R: Rng + ?Sized>(rng: &mut R, key: &str) -> Option<String> {
    let list: &[&'static str] = match key {
        "amount" => {
            let dollars = rng.gen_range(49..=9_999u64);
            let cents = [0u64, 0, 0, 50, 99][rng.gen_range(0..5)];
            return Some(format!("${}.{:02}", group_thousands(dollars), cents));
        }
        "invoice" => {
            let year = rng.gen_range(2022..=2025);
            let n = rng.gen_range(1..100_000);
            return Some(format!("INV-{year}-{n:05}"));
        }
        "seats" => return Some(rng.gen_range(3..=60).to_string()),
        "records" => return Some(group_thousands(rng.gen_range(10..=2_500u64) * 100)),
        "seconds" => return Some(rng.gen_range(8..=45).to_string()),
        "percent" => return Some(format!("{}%", rng.gen_range(8..=35))),
        "idp" => IDPS,
        "product" => PRODUCTS,
        "integration" => INTEGRATIONS,
        "old_tool" => OLD_TOOLS,
        "when" => WHENS,
        "duration" => DURATIONS,
        "date" => DATES,
        "http5xx" => HTTP_5XX,
        "api_error" => API_ERRORS,
        "browser" => BROWSERS,
        "os" => OSES,
        "device" => DEVICES,
        "app_version" => APP_VERSIONS,
        "role" => ROLES,
        "plan_high" => PLANS_HIGH,
        "plan_low" => PLANS_LOW,
        "region" => REGIONS,
        "report" => REPORTS,
        "feature" => FEATURES,
        "file_format" => FILE_FORMATS,
        "domain" => DOMAINS,
        "esp" => MAILBOX_PROVIDERS,
        "name" => NAMES,
        _ => return None,
    };
    Some(pick(rng, list).to_string())
}

/// Slot values already drawn for one ticket or note, so a slot that appears
/// twice (say `{idp}` in the subject and the body, or the same `{amount}`
/// charged and refunded) reads consistently. A `Vec`, not a map: lookups are
/// tiny and iteration order never matters for determinism.
#[derive(Default)]
struct Slots(Vec<(String, String)>);

/// Replace every `{slot}` in `template` with a filler, reusing values already
/// in `slots`. An unknown slot name is emitted without braces (tests
/// guarantee every slot used by a template is known).
fn fill<R: Rng + ?Sized>(rng: &mut R, slots: &mut Slots, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                if let Some((_, value)) = slots.0.iter().find(|(k, _)| k == key) {
                    out.push_str(value);
                } else if let Some(value) = slot(rng, key) {
                    out.push_str(&value);
                    slots.0.push((key.to_string(), value));
                } else {
                    out.push_str(key);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Subject line and body for a support ticket on topic `topic` (index into
/// [`TOPICS`]).
///
/// The subject is one filled template, occasionally lowercased or prefixed
/// with `Re:`. A slot repeated anywhere in the ticket gets one value. The body is 2-4 distinct filled sentences in random order,
/// sometimes with a greeting and/or sign-off. Deterministic given `rng`.
///
/// # Panics
/// Panics if `topic >= TOPICS.len()`.
pub fn ticket_text<R: rand::Rng + ?Sized>(rng: &mut R, topic: usize) -> (String, String) {
    let text = texts(topic);

    let template = pick(rng, text.subjects);
    let mut slots = Slots::default();
    let mut subject = fill(rng, &mut slots, template);
    if rng.gen_bool(0.15) {
        subject = subject.to_lowercase();
    }
    if rng.gen_bool(0.08) {
        subject = format!("Re: {subject}");
    }

    let count = rng.gen_range(2..=4).min(text.bodies.len());
    let sentences: Vec<String> = rand::seq::index::sample(rng, text.bodies.len(), count)
        .into_iter()
        .map(|i| fill(rng, &mut slots, text.bodies[i]))
        .collect();

    let mut body = String::new();
    if rng.gen_bool(0.4) {
        body.push_str(pick(rng, GREETINGS));
        body.push_str("\n\n");
    }
    body.push_str(&sentences.join(" "));
    if rng.gen_bool(0.4) {
        body.push_str("\n\n");
        let sign_off = pick(rng, SIGN_OFFS);
        body.push_str(&fill(rng, &mut slots, sign_off));
    }
    (subject, body)
}

/// A short internal note (an agent's or CSM's note) about the same topic:
/// one filled template of 1-2 sentences. Deterministic given `rng`.
///
/// # Panics
/// Panics if `topic >= TOPICS.len()`.
pub fn note_text<R: rand::Rng + ?Sized>(rng: &mut R, topic: usize) -> String {
    let text = texts(topic);
    let template = pick(rng, text.notes);
    fill(rng, &mut Slots::default(), template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    const AREAS: &[&str] = &[
        "authentication",
        "billing",
        "platform",
        "integrations",
        "data",
        "mobile",
        "email",
        "onboarding",
        "reporting",
    ];
    const PRIORITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "URGENT"];

    fn all_templates(t: &TopicText) -> impl Iterator<Item = &'static str> {
        t.subjects
            .iter()
            .chain(t.bodies.iter())
            .chain(t.notes.iter())
            .copied()
    }

    #[test]
    fn catalogue_shape() {
        assert!(TOPICS.len() >= 14);
        assert_eq!(TOPICS.len(), TEXTS.len());
        let mut keys = BTreeSet::new();
        for (topic, text) in TOPICS.iter().zip(TEXTS) {
            assert_eq!(topic.key, text.key, "TEXTS out of order");
            assert!(keys.insert(topic.key), "duplicate key {}", topic.key);
            assert!(AREAS.contains(&topic.product_area), "{}", topic.key);
            assert!(
                PRIORITIES.contains(&topic.default_priority),
                "{}",
                topic.key
            );
            assert!(text.subjects.len() >= 6, "{}", topic.key);
            assert!(text.bodies.len() >= 8, "{}", topic.key);
            assert!(text.notes.len() >= 5, "{}", topic.key);
        }
        assert_eq!(topic_index("sso_lockout"), Some(0));
        assert_eq!(topic_index("nope"), None);
        assert_eq!(group_thousands(7), "7");
        assert_eq!(group_thousands(1240), "1,240");
        assert_eq!(group_thousands(250_000), "250,000");
        assert_eq!(group_thousands(1_000_005), "1,000,005");
    }

    #[test]
    fn every_slot_is_known() {
        let mut rng = StdRng::seed_from_u64(1);
        let extra = GREETINGS.iter().chain(SIGN_OFFS.iter()).copied();
        for template in TEXTS.iter().flat_map(all_templates).chain(extra) {
            let mut rest = template;
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let close = after
                    .find('}')
                    .unwrap_or_else(|| panic!("unclosed: {template}"));
                let key = &after[..close];
                assert!(
                    slot(&mut rng, key).is_some(),
                    "unknown slot {key} in {template}"
                );
                rest = &after[close + 1..];
            }
            assert!(!rest.contains('}'), "stray brace in {template}");
        }
    }

    #[test]
    fn same_seed_same_text() {
        for topic in 0..TOPICS.len() {
            let mut a = StdRng::seed_from_u64(42 + topic as u64);
            let mut b = StdRng::seed_from_u64(42 + topic as u64);
            for _ in 0..10 {
                assert_eq!(ticket_text(&mut a, topic), ticket_text(&mut b, topic));
                assert_eq!(note_text(&mut a, topic), note_text(&mut b, topic));
            }
        }
        let mut c = StdRng::seed_from_u64(7);
        let mut d = StdRng::seed_from_u64(8);
        let first: Vec<_> = (0..5).map(|_| ticket_text(&mut c, 0)).collect();
        let second: Vec<_> = (0..5).map(|_| ticket_text(&mut d, 0)).collect();
        assert_ne!(first, second);
    }

    #[test]
    fn draws_are_varied() {
        let mut rng = StdRng::seed_from_u64(2024);
        for (topic, t) in TOPICS.iter().enumerate() {
            let mut subjects = BTreeSet::new();
            let mut bodies = BTreeSet::new();
            let mut notes = BTreeSet::new();
            for _ in 0..50 {
                let (s, b) = ticket_text(&mut rng, topic);
                assert!(!s.trim().is_empty());
                subjects.insert(s);
                bodies.insert(b);
                notes.insert(note_text(&mut rng, topic));
            }
            assert!(bodies.len() >= 30, "{}: {} bodies", t.key, bodies.len());
            assert!(
                subjects.len() >= 5,
                "{}: {} subjects",
                t.key,
                subjects.len()
            );
            assert!(notes.len() >= 5, "{}: {} notes", t.key, notes.len());
        }
    }

    #[test]
    fn no_placeholders_left() {
        let mut rng = StdRng::seed_from_u64(99);
        for topic in 0..TOPICS.len() {
            for _ in 0..300 {
                let (s, b) = ticket_text(&mut rng, topic);
                let n = note_text(&mut rng, topic);
                for text in [&s, &b, &n] {
                    assert!(
                        !text.contains('{') && !text.contains('}'),
                        "placeholder left: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn eval_queries_are_labelled_and_paraphrased() {
        for t in TOPICS {
            let n = EVAL_QUERIES.iter().filter(|(_, k)| *k == t.key).count();
            assert!(n >= 4, "{} has only {n} eval queries", t.key);
        }
        let templates: Vec<String> = TEXTS
            .iter()
            .flat_map(all_templates)
            .map(str::to_lowercase)
            .collect();
        let mut seen = BTreeSet::new();
        for (query, key) in EVAL_QUERIES {
            assert!(topic_index(key).is_some(), "unknown key {key}");
            assert!(seen.insert(query.to_lowercase()), "duplicate query {query}");
            let q = query.to_lowercase();
            for template in &templates {
                assert!(
                    !template.contains(&q),
                    "query {query:?} copied in {template:?}"
                );
                assert!(
                    !q.contains(template.as_str()),
                    "template {template:?} in {query:?}"
                );
            }
        }
    }
}
