//! SMS text rules: encoding choice, lengths and segment counts at every boundary, checked
//! by hand and against a brute-force reference.

use proptest::prelude::*;
use smsgw_shared::sms::{Encoding, MessageText, TextError, analyze};

fn segments(text: &str) -> usize {
    analyze(text).segments
}

fn rep(s: &str, n: usize) -> String {
    s.repeat(n)
}

#[test]
fn gsm7_single_and_concatenated_boundaries() {
    assert_eq!(segments(""), 0);
    assert_eq!(segments("a"), 1);
    assert_eq!(segments(&rep("a", 160)), 1);
    assert_eq!(segments(&rep("a", 161)), 2);
    for n in 2..=4 {
        assert_eq!(segments(&rep("a", 153 * n)), n, "153·{n}");
        assert_eq!(segments(&rep("a", 153 * n + 1)), n + 1, "153·{n}+1");
    }
    let info = analyze(&rep("a", 612));
    assert_eq!(
        (info.encoding, info.units, info.segments),
        (Encoding::Gsm7, 612, 4)
    );
}

#[test]
fn ucs2_single_and_concatenated_boundaries() {
    let cyr = "ж";
    assert_eq!(analyze(cyr).encoding, Encoding::Ucs2);
    assert_eq!(segments(&rep(cyr, 70)), 1);
    assert_eq!(segments(&rep(cyr, 71)), 2);
    for n in 2..=4 {
        assert_eq!(segments(&rep(cyr, 67 * n)), n, "67·{n}");
        assert_eq!(segments(&rep(cyr, 67 * n + 1)), n + 1, "67·{n}+1");
    }
}

#[test]
fn extension_characters_count_two_and_stay_whole() {
    let info = analyze("€");
    assert_eq!(
        (info.encoding, info.units, info.chars),
        (Encoding::Gsm7, 2, 1)
    );
    assert_eq!(segments(&(rep("a", 158) + "€")), 1, "158 + 2 = 160 septets");
    assert_eq!(segments(&(rep("a", 159) + "€")), 2, "161 septets");
    assert_eq!(analyze("{}[]~|^\\\u{c}€").units, 20);
    // 306 septets would be two full parts, but the € cannot straddle the boundary.
    let straddle = rep("a", 152) + "€" + &rep("a", 152);
    assert_eq!(analyze(&straddle).units, 306);
    assert_eq!(segments(&straddle), 3);
    let aligned = rep("a", 151) + "€" + &rep("a", 153);
    assert_eq!(segments(&aligned), 2);
}

#[test]
fn emoji_and_surrogate_pairs() {
    let info = analyze("😀");
    assert_eq!(
        (info.encoding, info.units, info.chars),
        (Encoding::Ucs2, 2, 1)
    );
    assert_eq!(segments(&rep("😀", 35)), 1, "70 units");
    assert_eq!(segments(&rep("😀", 36)), 2, "72 units");
    // A surrogate pair that would straddle a 67-unit boundary moves whole.
    let straddle = rep("ж", 66) + "😀" + &rep("ж", 66);
    assert_eq!(analyze(&straddle).units, 134);
    assert_eq!(segments(&straddle), 3);
    let aligned = rep("ж", 65) + "😀" + &rep("ж", 67);
    assert_eq!(segments(&aligned), 2);
}

#[test]
fn one_character_outside_gsm_switches_everything_to_ucs2() {
    let text = rep("a", 100) + "ł";
    let info = analyze(&text);
    assert_eq!(
        (info.encoding, info.units, info.segments),
        (Encoding::Ucs2, 101, 2)
    );
    // The escape character itself is not text.
    assert_eq!(analyze("\u{1b}").encoding, Encoding::Ucs2);
    // Accented letters of the GSM table stay GSM-7.
    assert_eq!(
        analyze("èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¿¡§£¥").encoding,
        Encoding::Gsm7
    );
    assert_eq!(
        analyze("ç").encoding,
        Encoding::Ucs2,
        "only upper-case Ç is in GSM 03.38"
    );
}

#[test]
fn hilink_limits_refuse_with_a_clear_error() {
    assert!(MessageText::parse(rep("a", 612)).is_ok());
    assert!(MessageText::parse(rep("€", 306)).is_ok(), "612 septets");
    let err = MessageText::parse(rep("a", 613)).err();
    assert_eq!(
        err,
        Some(TextError::TooLong {
            encoding: Encoding::Gsm7,
            units: 613,
            max: 612,
            segments: 5
        })
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("613 septets") && message.contains("612"),
        "{message}"
    );
    assert!(MessageText::parse(rep("ж", 268)).is_ok());
    assert!(matches!(
        MessageText::parse(rep("ж", 269)),
        Err(TextError::TooLong {
            encoding: Encoding::Ucs2,
            units: 269,
            max: 268,
            ..
        })
    ));
    assert!(matches!(
        MessageText::parse(rep("😀", 135)),
        Err(TextError::TooLong { units: 270, .. })
    ));
    assert_eq!(MessageText::parse(""), Err(TextError::Empty));
    assert_eq!(MessageText::parse(" \n\t"), Err(TextError::Empty));
    assert_eq!(
        MessageText::parse("a\u{0}b"),
        Err(TextError::Unsendable {
            character: '\0',
            position: 1
        })
    );
    assert_eq!(
        MessageText::parse("ok\u{1b}"),
        Err(TextError::Unsendable {
            character: '\u{1b}',
            position: 2
        })
    );
    assert!(MessageText::parse("line\r\nnext\ttab").is_ok());
    let ok = MessageText::parse("Hello").map(|t| t.info().segments);
    assert_eq!(ok, Ok(1));
}

/// The GSM 03.38 tables typed out again, independently of the crate's table.
const REF_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const REF_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Brute-force reference: the fewest segments over every way of cutting the text at
/// character boundaries (dynamic programming over all cut points).
fn reference(text: &str) -> (Encoding, usize, usize) {
    let gsm = text
        .chars()
        .all(|c| REF_BASIC.contains(c) || REF_EXTENSION.contains(c));
    let widths: Vec<usize> = text
        .chars()
        .map(|c| {
            if gsm {
                if REF_EXTENSION.contains(c) { 2 } else { 1 }
            } else {
                c.len_utf16()
            }
        })
        .collect();
    let units: usize = widths.iter().sum();
    let (single, part) = if gsm { (160, 153) } else { (70, 67) };
    let encoding = if gsm { Encoding::Gsm7 } else { Encoding::Ucs2 };
    if units == 0 {
        return (encoding, 0, 0);
    }
    if units <= single {
        return (encoding, units, 1);
    }
    let n = widths.len();
    let mut best = vec![usize::MAX; n + 1];
    best[0] = 0;
    for end in 1..=n {
        let mut size = 0;
        for start in (0..end).rev() {
            size += widths[start];
            if size > part {
                break;
            }
            if best[start] != usize::MAX {
                best[end] = best[end].min(best[start] + 1);
            }
        }
    }
    (encoding, units, best[n])
}

fn sms_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(REF_BASIC.chars().collect::<Vec<_>>()),
        2 => prop::sample::select(REF_EXTENSION.chars().collect::<Vec<_>>()),
        1 => prop::sample::select(vec!['ł', 'ж', 'ş', '中', 'ç', '\u{1b}']),
        1 => prop::sample::select(vec!['😀', '🚀', '𝄞']),
    ]
}

fn gsm_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(REF_BASIC.chars().collect::<Vec<_>>()),
        2 => prop::sample::select(REF_EXTENSION.chars().collect::<Vec<_>>()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_reference(chars in prop::collection::vec(sms_char(), 0..400)) {
        let text: String = chars.into_iter().collect();
        let info = analyze(&text);
        prop_assert_eq!((info.encoding, info.units, info.segments), reference(&text));
        prop_assert_eq!(info.chars, text.chars().count());
    }

    #[test]
    fn long_gsm_texts_match_the_reference(chars in prop::collection::vec(gsm_char(), 140..700)) {
        let text: String = chars.into_iter().collect();
        let info = analyze(&text);
        prop_assert_eq!((info.encoding, info.units, info.segments), reference(&text));
    }

    #[test]
    fn message_text_accepts_exactly_what_fits(chars in prop::collection::vec(sms_char(), 0..700)) {
        let text: String = chars.into_iter().collect();
        let info = analyze(&text);
        let fits = !text.trim().is_empty()
            && text.chars().all(smsgw_shared::sms::is_sendable)
            && info.units <= info.encoding.hilink_max();
        prop_assert_eq!(MessageText::parse(text).is_ok(), fits);
    }
}
