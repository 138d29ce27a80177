//! The filters of `GET /api/v1/messages`, checked: an unknown status or direction, a bad
//! date, a limit past the maximum or a foreign cursor is an error, never silently ignored.

use serde::Deserialize;
use smsgw_shared::{ids::SiteId, phone::PhoneNumber, phone::Region, state::MessageState};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{
    FieldError,
    cursor::{Cursor, CursorError},
};

/// Rows per page unless the client asks otherwise.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most rows per page.
pub const MAX_LIMIT: i64 = 500;

/// Which way a message travels.
///
/// The API speaks the original gateway's words (`outgoing`, `incoming`: its clients read
/// them); the database keeps `outbound` / `inbound`. Filters accept both spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent through the gateway.
    Outgoing,
    /// Received by a modem.
    Incoming,
}

impl Direction {
    /// Name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }

    /// Name in the database (`messages.direction`).
    pub fn as_db(self) -> &'static str {
        match self {
            Direction::Outgoing => "outbound",
            Direction::Incoming => "inbound",
        }
    }

    /// Reads a direction as a client writes it: the API's names or the database's.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "outgoing" | "outbound" => Some(Direction::Outgoing),
            "incoming" | "inbound" => Some(Direction::Incoming),
            _ => None,
        }
    }

    /// Reads a `messages.direction` value: the column's CHECK constraint admits only
    /// `outbound` and `inbound`.
    pub fn from_db(s: &str) -> Self {
        if s == "inbound" {
            Direction::Incoming
        } else {
            Direction::Outgoing
        }
    }
}

/// The query string as it arrives: all text, checked by [`ListFilter::parse`].
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `outgoing` or `incoming` (`outbound` and `inbound` are read as the same).
    pub direction: Option<String>,
    /// A message status.
    pub status: Option<String>,
    /// A phone number (any form [`PhoneNumber::parse`] reads).
    pub phone: Option<String>,
    /// A site id.
    pub site: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    /// Rows per page, 1 to [`MAX_LIMIT`].
    pub limit: Option<String>,
    /// Rows to skip.
    pub offset: Option<String>,
    /// Continue after the page that returned this `next_cursor`.
    pub cursor: Option<String>,
}

/// A checked listing request.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this status.
    pub status: Option<MessageState>,
    /// Only this number (E.164).
    pub phone: Option<PhoneNumber>,
    /// Only this site.
    pub site: Option<SiteId>,
    /// Created at or after.
    pub since: Option<OffsetDateTime>,
    /// Created before.
    pub until: Option<OffsetDateTime>,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// Start after this row.
    pub cursor: Option<Cursor>,
}

fn parse_time(field: &str, value: Option<String>) -> Result<Option<OffsetDateTime>, FieldError> {
    value
        .map(|s| {
            OffsetDateTime::parse(&s, &Rfc3339).map_err(|_| {
                FieldError::new(
                    "invalid_query",
                    field,
                    format!("`{field}` must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z"),
                )
            })
        })
        .transpose()
}

fn parse_count(field: &str, value: Option<String>) -> Result<Option<i64>, FieldError> {
    value
        .map(|s| {
            s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                FieldError::new(
                    "invalid_query",
                    field,
                    format!("`{field}` must be a whole number ≥ 0"),
                )
            })
        })
        .transpose()
}

impl ListFilter {
    /// Checks a query, reading national numbers in `region`.
    pub fn parse(query: ListQuery, region: Option<Region>) -> Result<Self, FieldError> {
        let direction = query
            .direction
            .map(|d| {
                Direction::parse(&d).ok_or_else(|| {
                    FieldError::new(
                        "invalid_direction",
                        "direction",
                        format!(
                            "unknown direction {d:?} (known: outgoing, incoming; also outbound, inbound)"
                        ),
                    )
                })
            })
            .transpose()?;
        let status = query
            .status
            .map(|s| {
                s.parse::<MessageState>()
                    .map_err(|e| FieldError::new("unknown_status", "status", e.to_string()))
            })
            .transpose()?;
        let phone = query
            .phone
            .map(|p| {
                PhoneNumber::parse(&p, region)
                    .map_err(|e| FieldError::new("invalid_phone", "phone", e.to_string()))
            })
            .transpose()?;
        let site = query
            .site
            .map(|s| {
                s.parse::<SiteId>()
                    .map_err(|e| FieldError::new("invalid_site", "site", e.to_string()))
            })
            .transpose()?;
        let since = parse_time("since", query.since)?;
        let until = parse_time("until", query.until)?;
        let limit = parse_count("limit", query.limit)?.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return Err(FieldError::new(
                "invalid_query",
                "limit",
                "`limit` must be at least 1",
            ));
        }
        if limit > MAX_LIMIT {
            return Err(FieldError::new(
                "limit_too_large",
                "limit",
                format!("`limit` is at most {MAX_LIMIT}"),
            ));
        }
        let offset = parse_count("offset", query.offset)?.unwrap_or(0);
        let cursor = query
            .cursor
            .map(|c| {
                Cursor::decode(&c).map_err(|e: CursorError| {
                    FieldError::new("invalid_cursor", "cursor", e.to_string())
                })
            })
            .transpose()?;
        Ok(Self {
            direction,
            status,
            phone,
            site,
            since,
            until,
            limit,
            offset,
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(q: ListQuery) -> &'static str {
        ListFilter::parse(q, None).expect_err("refused").code
    }

    #[test]
    fn defaults() {
        let f = ListFilter::parse(ListQuery::default(), None).expect("ok");
        assert_eq!((f.limit, f.offset), (DEFAULT_LIMIT, 0));
    }

    #[test]
    fn directions_read_both_vocabularies() {
        for (given, api, db) in [
            ("outgoing", "outgoing", "outbound"),
            ("outbound", "outgoing", "outbound"),
            ("incoming", "incoming", "inbound"),
            ("inbound", "incoming", "inbound"),
        ] {
            let d = Direction::parse(given).expect(given);
            assert_eq!((d.as_str(), d.as_db()), (api, db), "{given}");
            assert_eq!(Direction::from_db(db), d);
        }
        assert_eq!(
            serde_json::to_value(Direction::Outgoing).expect("json"),
            "outgoing"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let q = |f: fn(&mut ListQuery)| {
            let mut q = ListQuery::default();
            f(&mut q);
            q
        };
        assert_eq!(
            refused(q(|q| q.status = Some("bogus".into()))),
            "unknown_status"
        );
        assert_eq!(
            refused(q(|q| q.direction = Some("up".into()))),
            "invalid_direction"
        );
        assert_eq!(
            refused(q(|q| q.limit = Some("501".into()))),
            "limit_too_large"
        );
        assert_eq!(refused(q(|q| q.limit = Some("-1".into()))), "invalid_query");
        assert_eq!(refused(q(|q| q.limit = Some("0".into()))), "invalid_query");
        assert_eq!(
            refused(q(|q| q.since = Some("yesterday".into()))),
            "invalid_query"
        );
        assert_eq!(
            refused(q(|q| q.cursor = Some("xyz".into()))),
            "invalid_cursor"
        );
        assert_eq!(refused(q(|q| q.site = Some("A B".into()))), "invalid_site");
    }
}
