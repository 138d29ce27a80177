//! Group commit for `POST /api/v1/messages`.
//!
//! Every accepted message must be committed before its 201, and a commit costs a WAL flush;
//! every message of a key also spends from one rate-limit row, whose lock serialises that
//! key's sends. One transaction per request would therefore accept one message per flush.
//! Here concurrent requests share a transaction instead: the handler hands its request to
//! the [`Accepter`], a per-process task that gathers what has queued up while the previous
//! batch was in flight and stores it in ONE transaction, with one statement per step
//! whatever the batch size (see [`accept_batch`]). There is no timer: a lone request goes
//! at once, and the busier the API, the larger the batches. Each request still waits for
//! the commit of its own batch, so nothing is answered from memory: a replica that dies
//! loses only requests that have not been answered yet.
//!
//! The batch also looks up the API keys of its requests, one statement for all of them, so
//! sending costs no round trip of its own for authentication.
//!
//! Each request keeps its own answer: a refusal (unknown or revoked key, invalid body,
//! unknown site, rate limit), a replay or its stored message. A batch whose statement the
//! database refuses is rolled back and its requests are tried again one by one, so one bad
//! request cannot fail the others; a batch that cannot reach the database answers every
//! request 503 `database_unavailable` at once; a batch whose commit fails answers every
//! request with an error, because its outcome is unknown.
//!
//! Metrics: `smsgw_accept_batches_total` and `smsgw_accept_batched_requests_total` (their
//! ratio is the mean batch size), `smsgw_accept_batches_split_total`.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{
    auth::{self, AuthenticatedKey},
    error::{ApiError, is_unavailable},
    messages::message_body,
    routing,
};
use crate::{
    domain::{FieldError, key_scope::Permission, new_message::NewMessage},
    store::{
        self,
        idempotency::{Claim, Ticket},
        messages::{MessageRow, Outbound},
        rate_limit::{Decision, RateLimitStatus},
    },
};

/// Most requests in one transaction.
pub const MAX_BATCH: usize = 256;
/// Batches in flight at once per process. Batches of one key wait for each other on the
/// key's rate-limit row anyway; a second batch is prepared while the first commits.
pub const CONCURRENT_BATCHES: usize = 2;
/// Requests waiting for a batch before `submit` waits for room.
const QUEUE: usize = 4096;

/// A request to send a message, as the handler has checked it.
#[derive(Debug)]
pub struct Submission {
    /// HMAC of the API key it came with (looked up with the batch).
    pub key_hash: Vec<u8>,
    /// Its `Idempotency-Key` and body hash, if it has one.
    pub idempotency: Option<(String, Vec<u8>)>,
    /// The message, or why the body is invalid (reported unless the idempotency key replays
    /// or conflicts first).
    pub message: Result<NewMessage, FieldError>,
}

/// The answer to an accepted request.
#[derive(Debug)]
pub enum Accepted {
    /// Stored as `queued`; `rate` is the key's budget after it.
    Created {
        /// The stored row.
        row: Box<MessageRow>,
        /// The budget for the rate-limit headers.
        rate: RateLimitStatus,
    },
    /// The same idempotency key and body came before: its answer again.
    Replay {
        /// Status of the first answer.
        status: StatusCode,
        /// Body of the first answer.
        body: Value,
    },
}

/// What became of a submission.
#[derive(Debug)]
pub struct Outcome {
    /// Its API key, when it is known and valid (the answer then gets rate-limit headers).
    pub key: Option<AuthenticatedKey>,
    /// The answer.
    pub answer: Result<Accepted, ApiError>,
}

impl Outcome {
    fn failed(answer: ApiError) -> Self {
        Self {
            key: None,
            answer: Err(answer),
        }
    }
}

struct Job {
    submission: Submission,
    reply: oneshot::Sender<Outcome>,
}

/// The handle of the process's group-commit task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Accepter {
    queue: mpsc::Sender<Job>,
}

impl Accepter {
    /// Starts the group-commit task on the current runtime.
    pub fn start(db: PgPool) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(gather(db, jobs));
        Self { queue }
    }

    /// Stores a message with the next batch and waits for that batch's commit.
    pub async fn submit(&self, submission: Submission) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        if self.queue.send(Job { submission, reply }).await.is_err() {
            return Outcome::failed(ApiError::Internal(
                "the group-commit task has stopped".into(),
            ));
        }
        outcome.await.unwrap_or_else(|_| {
            Outcome::failed(ApiError::Internal(
                "the group-commit task dropped a request".into(),
            ))
        })
    }
}

/// The idempotency key of a job, which must not appear twice in one batch: the second
/// would wait on the claim of the first, which is in its own transaction.
fn ticket_id(job: &Job) -> Option<(&[u8], &str)> {
    let s = &job.submission;
    s.idempotency
        .as_ref()
        .map(|(k, _)| (s.key_hash.as_slice(), k.as_str()))
}

/// Adds `job` to `batch`, or to `later` when its idempotency key is already in the batch.
fn add(batch: &mut Vec<Job>, later: &mut VecDeque<Job>, job: Job) {
    if let Some(id) = ticket_id(&job)
        && batch.iter().any(|other| ticket_id(other) == Some(id))
    {
        later.push_back(job);
    } else {
        batch.push(job);
    }
}

/// Forms batches from what is queued whenever a batch slot is free, and runs them.
async fn gather(db: PgPool, mut jobs: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
    let mut later: VecDeque<Job> = VecDeque::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        for job in std::mem::take(&mut later) {
            add(&mut batch, &mut later, job);
        }
        if batch.is_empty() {
            // Nothing deferred: wait for the next request.
            match jobs.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => add(&mut batch, &mut later, job),
                Err(_) => break,
            }
        }
        metrics::counter!("smsgw_accept_batches_total").increment(1);
        metrics::counter!("smsgw_accept_batched_requests_total").increment(batch.len() as u64);
        let db = db.clone();
        tokio::spawn(async move {
            let (submissions, replies): (Vec<Submission>, Vec<_>) =
                batch.into_iter().map(|j| (j.submission, j.reply)).unzip();
            let outcomes = accept_batch(&db, &submissions).await;
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A request whose client went away does not take its answer.
                let _ = reply.send(outcome);
            }
            drop(slot);
        });
    }
}

/// Why a batch transaction did not commit.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    /// A statement failed: the transaction is rolled back and nothing of it stays.
    #[error("a statement of the batch failed: {0}")]
    Statement(#[from] sqlx::Error),
    /// A stored message could not be rendered for its idempotency record (rolled back).
    #[error("cannot render a stored message: {0}")]
    Render(#[from] serde_json::Error),
    /// The commit failed: what it did is unknown.
    #[error("the commit of the batch failed: {0}")]
    Commit(sqlx::Error),
}

impl BatchError {
    /// The answer of one request of a failed batch.
    fn answer(self) -> ApiError {
        match self {
            BatchError::Statement(e) | BatchError::Commit(e) => ApiError::Database(e),
            BatchError::Render(e) => ApiError::Internal(format!("cannot render a message: {e}")),
        }
    }
}

/// Stores what can be stored of `submissions` in one transaction; one outcome per
/// submission, in order. If the transaction fails before its commit, nothing of it stays
/// and the submissions are tried again one by one, each in its own transaction.
pub async fn accept_batch(db: &PgPool, submissions: &[Submission]) -> Vec<Outcome> {
    let all: Vec<&Submission> = submissions.iter().collect();
    match in_one_transaction(db, &all).await {
        Ok(outcomes) => outcomes,
        Err(e @ BatchError::Commit(_)) => {
            tracing::error!(error = %e, size = all.len(), "a batch commit failed; its requests are answered with errors");
            all.iter()
                .map(|_| Outcome::failed(ApiError::Internal(e.to_string())))
                .collect()
        }
        Err(e) if all.len() == 1 => vec![Outcome::failed(e.answer())],
        // Out of reach, the database fails every request alike: trying them one by one
        // would only make each wait for the same failure again.
        Err(BatchError::Statement(e)) if is_unavailable(&e) => {
            tracing::error!(error = %e, size = all.len(), "the database is out of reach; the batch is refused");
            all.iter()
                .map(|_| Outcome::failed(ApiError::DatabaseUnavailable(e.to_string())))
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, size = all.len(), "a batch failed; storing its messages one by one");
            metrics::counter!("smsgw_accept_batches_split_total").increment(1);
            let mut outcomes = Vec::with_capacity(all.len());
            for submission in all {
                outcomes.push(match in_one_transaction(db, &[submission]).await {
                    Ok(mut one) => one.pop().unwrap_or_else(|| {
                        Outcome::failed(ApiError::Internal("a batch of one gave no answer".into()))
                    }),
                    Err(e) => Outcome::failed(e.answer()),
                });
            }
            outcomes
        }
    }
}

/// A request of the batch that has passed every check so far.
struct Candidate<'a> {
    /// Its place in the batch.
    index: usize,
    key: &'a AuthenticatedKey,
    submission: &'a Submission,
    message: &'a NewMessage,
}

/// The batch transaction: looks up keys, claims idempotency keys, checks bodies, routes,
/// inserts messages, spends rate limits and stores idempotent answers, each step one
/// statement for the whole batch (a step with nothing to do is skipped); then commits.
async fn in_one_transaction(
    db: &PgPool,
    submissions: &[&Submission],
) -> Result<Vec<Outcome>, BatchError> {
    let mut answers: Vec<Option<Result<Accepted, ApiError>>> =
        submissions.iter().map(|_| None).collect();
    let mut tx = db.begin().await?;

    let mut hashes: Vec<Vec<u8>> = submissions.iter().map(|s| s.key_hash.clone()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let records = store::keys::find_and_touch(&mut *tx, &hashes).await?;
    let keys: Vec<Option<AuthenticatedKey>> = submissions
        .iter()
        .zip(&mut answers)
        .map(
            |(s, answer)| match auth::admit(records.get(&s.key_hash).cloned()) {
                Ok(key) => {
                    // A valid key without `send` is refused, with its budget shown.
                    if let Err(e) = key.require(Permission::Send) {
                        *answer = Some(Err(e));
                    }
                    Some(key)
                }
                Err(e) => {
                    *answer = Some(Err(e));
                    None
                }
            },
        )
        .collect();

    // Idempotency keys next: a replay or a conflict answers before the body is looked at.
    let ticketed: Vec<(usize, Ticket)> = submissions
        .iter()
        .zip(&keys)
        .enumerate()
        .filter(|(i, _)| answers[*i].is_none())
        .filter_map(|(i, (s, key))| {
            let (idempotency_key, hash) = s.idempotency.as_ref()?;
            Some((
                i,
                Ticket {
                    key_id: key.as_ref()?.id,
                    idempotency_key: idempotency_key.clone(),
                    request_hash: hash.clone(),
                },
            ))
        })
        .collect();
    let mut fresh = Vec::new();
    if !ticketed.is_empty() {
        let tickets: Vec<Ticket> = ticketed.iter().map(|(_, t)| t.clone()).collect();
        let claims = store::idempotency::claim(&mut tx, &tickets).await?;
        for ((i, ticket), claim) in ticketed.into_iter().zip(claims) {
            match claim {
                Claim::Fresh => fresh.push((i, ticket)),
                Claim::Replay { status, body } => {
                    answers[i] = Some(Ok(Accepted::Replay {
                        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                        body,
                    }));
                }
                Claim::Conflict => answers[i] = Some(Err(ApiError::IdempotencyConflict)),
            }
        }
    }

    let mut candidates = Vec::new();
    for (index, (submission, key)) in submissions.iter().zip(&keys).enumerate() {
        let Some(key) = key else { continue };
        match (&answers[index], &submission.message) {
            (Some(_), _) => {}
            (None, Err(e)) => answers[index] = Some(Err(ApiError::InvalidBody(e.clone()))),
            (None, Ok(message)) => candidates.push(Candidate {
                index,
                key,
                submission,
                message,
            }),
        }
    }

    let asks: Vec<(&AuthenticatedKey, &NewMessage)> =
        candidates.iter().map(|c| (c.key, c.message)).collect();
    let sites = routing::choose_sites(&mut tx, &asks).await?;
    let mut routed = Vec::new();
    for (candidate, site) in candidates.into_iter().zip(sites) {
        match site {
            Ok(site) => routed.push((candidate, site)),
            Err(e) => answers[candidate.index] = Some(Err(e)),
        }
    }

    let outbound: Vec<Outbound<'_>> = routed
        .iter()
        .map(|(candidate, site)| Outbound {
            message: candidate.message,
            site,
            owner_key_id: candidate.key.id,
            idempotency_key: candidate
                .submission
                .idempotency
                .as_ref()
                .map(|(k, _)| k.as_str()),
        })
        .collect();
    let rows = store::messages::insert_outbound(&mut tx, &outbound).await?;

    // The rate limits last: their row locks are held until the commit. Messages beyond a
    // key's budget are refused and their rows discarded.
    let wanted: Vec<(i64, i32)> = routed
        .iter()
        .map(|(c, _)| (c.key.id, c.key.rate_limit))
        .collect();
    let mut grants: HashMap<i64, _> = if wanted.is_empty() {
        HashMap::new()
    } else {
        store::rate_limit::spend(&mut tx, &wanted)
            .await?
            .into_iter()
            .map(|g| (g.key_id, g))
            .collect()
    };
    let mut created = Vec::new();
    let mut discarded = Vec::new();
    for ((candidate, _), row) in routed.into_iter().zip(rows) {
        let key = candidate.key;
        let decision = grants.get_mut(&key.id).map(|g| g.take(key.rate_limit));
        match decision {
            Some(Decision::Allowed(rate)) => created.push((candidate, row, rate)),
            Some(Decision::Refused(rate)) => {
                metrics::counter!("smsgw_rate_limited_total").increment(1);
                discarded.push(row.id);
                answers[candidate.index] = Some(Err(ApiError::RateLimited(rate)));
            }
            None => {
                discarded.push(row.id);
                answers[candidate.index] = Some(Err(ApiError::Internal(format!(
                    "no rate-limit grant for key {}",
                    key.prefix
                ))));
            }
        }
    }
    store::messages::discard(&mut tx, &discarded).await?;

    // Idempotent answers are stored with their messages; refused requests give their
    // idempotency keys back, as if they had never come.
    let mut completed = Vec::new();
    for (candidate, row, rate) in created {
        if let Some((idempotency_key, _)) = &candidate.submission.idempotency {
            completed.push(store::idempotency::Answer {
                key_id: candidate.key.id,
                idempotency_key: idempotency_key.clone(),
                status: StatusCode::CREATED.as_u16(),
                body: message_body(row.clone())?,
            });
        }
        answers[candidate.index] = Some(Ok(Accepted::Created {
            row: Box::new(row),
            rate,
        }));
    }
    store::idempotency::complete(&mut tx, &completed).await?;
    let released: Vec<Ticket> = fresh
        .into_iter()
        .filter(|(i, _)| matches!(answers[*i], Some(Err(_))))
        .map(|(_, t)| t)
        .collect();
    store::idempotency::release(&mut tx, &released).await?;

    tx.commit().await.map_err(BatchError::Commit)?;
    Ok(keys
        .into_iter()
        .zip(answers)
        .map(|(key, answer)| Outcome {
            key,
            answer: answer
                .unwrap_or_else(|| Err(ApiError::Internal("a request was left unanswered".into()))),
        })
        .collect())
}
