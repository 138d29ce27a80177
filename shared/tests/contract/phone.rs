//! Phone numbers of several countries, in national and international forms.

use smsgw_shared::phone::{PhoneError, PhoneNumber, Region, parse_region};

fn e164(input: &str, region: Option<Region>) -> String {
    match PhoneNumber::parse(input, region) {
        Ok(n) => n.as_str().to_owned(),
        Err(e) => panic!("{input:?} refused: {e}"),
    }
}

#[test]
fn france() {
    let fr = Some(Region::FR);
    assert_eq!(e164("06 12 34 56 78", fr), "+33612345678");
    assert_eq!(e164("06.12.34.56.78", fr), "+33612345678");
    assert_eq!(e164("+33 6 12 34 56 78", None), "+33612345678");
    assert_eq!(e164("0033612345678", Some(Region::FR)), "+33612345678");
    assert_eq!(e164("01 42 68 53 00", fr), "+33142685300");
}

#[test]
fn congo_brazzaville() {
    let cg = Some(Region::CG);
    assert_eq!(e164("06 123 4567", cg), "+242061234567");
    assert_eq!(e164("+242 06 123 4567", None), "+242061234567");
    assert_eq!(e164("+242061234567", Some(Region::FR)), "+242061234567");
}

#[test]
fn united_states() {
    let us = Some(Region::US);
    assert_eq!(e164("(201) 555-0123", us), "+12015550123");
    assert_eq!(e164("201-555-0123", us), "+12015550123");
    assert_eq!(e164("+1 201 555 0123", None), "+12015550123");
    assert_eq!(e164("+1 201 555 0123", Some(Region::FR)), "+12015550123");
}

#[test]
fn the_region_changes_how_national_numbers_read() {
    // The same digits are another number in another country.
    assert_ne!(
        e164("0612345678", Some(Region::FR)),
        e164("061234567", Some(Region::CG))
    );
}

#[test]
fn refusals_say_why() {
    let fr = Some(Region::FR);
    assert_eq!(PhoneNumber::parse("  ", fr), Err(PhoneError::Empty));
    assert!(matches!(
        PhoneNumber::parse("06 12 34 56 7a", fr),
        Err(PhoneError::InvalidCharacters(_))
    ));
    assert!(matches!(
        PhoneNumber::parse("+33+612345678", None),
        Err(PhoneError::InvalidCharacters(_))
    ));
    assert!(matches!(
        PhoneNumber::parse("0612345678", None),
        Err(PhoneError::NoRegion(_))
    ));
    // Too short for France's numbering plan.
    assert!(matches!(
        PhoneNumber::parse("06 12 34", fr),
        Err(PhoneError::NotValid { .. } | PhoneError::Unparsable { .. })
    ));
    // Country code 999 does not exist.
    assert!(matches!(
        PhoneNumber::parse("+999 123 456 789", None),
        Err(PhoneError::Unparsable { .. } | PhoneError::NotValid { .. })
    ));
    // Too long.
    assert!(PhoneNumber::parse("+33 6 12 34 56 78 90 12 34", None).is_err());
    // A US number with an area code that does not exist.
    assert!(matches!(
        PhoneNumber::parse("(099) 555-0123", Some(Region::US)),
        Err(PhoneError::NotValid { .. } | PhoneError::Unparsable { .. })
    ));
    // Congo mobile numbers have 9 digits after the country code.
    assert!(PhoneNumber::parse("+242 06 123", None).is_err());
    let message = PhoneNumber::parse("0612345678", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("default region"), "{message}");
}

#[test]
fn regions_parse_from_config() {
    assert_eq!(parse_region("fr"), Ok(Region::FR));
    assert_eq!(parse_region(" CG "), Ok(Region::CG));
    assert_eq!(
        parse_region("France"),
        Err(PhoneError::UnknownRegion("France".into()))
    );
}

#[test]
fn serde_keeps_e164_and_refuses_the_rest() {
    let n: PhoneNumber = serde_json::from_str("\"+33612345678\"").expect("valid");
    assert_eq!(
        serde_json::to_string(&n).ok(),
        Some("\"+33612345678\"".into())
    );
    assert!(serde_json::from_str::<PhoneNumber>("\"0612345678\"").is_err());
}
