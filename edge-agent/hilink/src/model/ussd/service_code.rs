//! What counts as a USSD service code, as a type that can only hold one.
//!
//! Kept apart from the request and reply shapes so that the error type can name a
//! [`CodeProblem`] without depending on them.

use std::fmt;
use std::str::FromStr;

use crate::code as codes;

/// Longest USSD string: 182 characters of the GSM 7-bit alphabet (3GPP TS 23.038).
pub const MAX_CODE_LEN: usize = 182;

/// Why a string is not a USSD service code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// Nothing to send.
    Empty,
    /// Longer than [`MAX_CODE_LEN`].
    TooLong(usize),
    /// Not of the form `*…#` or `#…#` with digits, `*`, `#` and `+` in between.
    NotAServiceCode,
}

impl CodeProblem {
    /// The error code a device answers for such a code: 111016 empty, 111014 too long;
    /// for anything else the simulator answers 100006 (parameter error), a choice, since no
    /// source shows what a device says to a malformed service code.
    pub fn device_code(&self) -> u32 {
        match self {
            CodeProblem::Empty => codes::USSD_EMPTY,
            CodeProblem::TooLong(_) => codes::USSD_TOO_LONG,
            CodeProblem::NotAServiceCode => codes::PARAMETER_ERROR,
        }
    }
}

impl fmt::Display for CodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeProblem::Empty => f.write_str("the USSD code is empty"),
            CodeProblem::TooLong(len) => write!(
                f,
                "the USSD code has {len} characters, at most {MAX_CODE_LEN}"
            ),
            CodeProblem::NotAServiceCode => f.write_str(
                "a USSD code starts with * or #, ends with #, and has only digits, *, # and + in between",
            ),
        }
    }
}

/// A USSD service code such as `*100#`, `#123#` or `*101*1*5#`: only valid ones exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UssdCode(String);

impl UssdCode {
    /// Checks that `code` is a service code.
    pub fn parse(code: &str) -> Result<Self, CodeProblem> {
        check(code)?;
        Ok(UssdCode(code.to_owned()))
    }

    /// The code as dialled.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UssdCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for UssdCode {
    type Err = CodeProblem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UssdCode::parse(s)
    }
}

impl AsRef<str> for UssdCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn check(code: &str) -> Result<(), CodeProblem> {
    if code.is_empty() {
        return Err(CodeProblem::Empty);
    }
    let len = code.chars().count();
    if len > MAX_CODE_LEN {
        return Err(CodeProblem::TooLong(len));
    }
    let well_formed = code.len() >= 3
        && (code.starts_with('*') || code.starts_with('#'))
        && code.ends_with('#')
        && code.bytes().any(|b| b.is_ascii_digit())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+'));
    if well_formed {
        Ok(())
    } else {
        Err(CodeProblem::NotAServiceCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes() {
        for good in [
            "*100#",
            "#123#",
            "*101*1*5#",
            "**21*+4915112345678#",
            "*#06#",
        ] {
            assert_eq!(
                UssdCode::parse(good).map(|c| c.to_string()),
                Ok(good.to_owned()),
                "{good}"
            );
        }
        assert_eq!(check(""), Err(CodeProblem::Empty));
        for bad in ["*100", "100#", "*abc#", "*#", "##", "* 100#", "1", "*1००#"] {
            assert_eq!(check(bad), Err(CodeProblem::NotAServiceCode), "{bad}");
        }
        let long = format!("*{}#", "1".repeat(MAX_CODE_LEN));
        assert_eq!(check(&long), Err(CodeProblem::TooLong(MAX_CODE_LEN + 2)));
        assert_eq!(CodeProblem::Empty.device_code(), 111016);
        assert_eq!(CodeProblem::TooLong(200).device_code(), 111014);
    }
}
