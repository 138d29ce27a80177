//! The modems' clock. HiLink devices take their time from the network or the box and write
//! dates in local time without an offset (`Date` of send-sms, of every listed SMS), so the
//! agent needs the box's UTC offset. The `time` crate reads it only while the process has a
//! single thread (reading the environment is unsound otherwise), so `main` captures it once
//! with [`capture_local_offset`] before the runtime starts; everything else reads
//! [`local_offset`], which is UTC when nothing was captured (tests, embedding).

use std::sync::OnceLock;

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the system's UTC offset (call before any thread starts) and keeps it.
pub fn capture_local_offset() -> UtcOffset {
    *OFFSET.get_or_init(|| UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC))
}

/// The captured offset, else UTC.
pub fn local_offset() -> UtcOffset {
    OFFSET.get().copied().unwrap_or(UtcOffset::UTC)
}

/// A device-local date and time as an instant, given the offset of the device's clock.
pub fn device_time(local: PrimitiveDateTime, offset: UtcOffset) -> OffsetDateTime {
    local.assume_offset(offset)
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, offset};

    use super::*;

    #[test]
    fn device_dates_are_read_in_the_boxs_zone() {
        let local = datetime!(2026-11-25 10:00:00);
        assert_eq!(
            device_time(local, offset!(+1)),
            datetime!(2026-11-25 09:00:00 UTC)
        );
        assert_eq!(
            device_time(local, UtcOffset::UTC),
            datetime!(2026-11-25 10:00:00 UTC)
        );
    }
}
