//! Name and tag validation: every image name the user types is checked against the distribution
//! reference grammar (via `slipway_oci::Reference`) before it reaches the engine, so the error
//! says which rule broke instead of whatever the engine happens to reply.
//!
//! The OCI distribution spec says a repository `<name>` MUST match
//! `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` and a `<reference>`
//! as a tag MUST be at most 128 characters and match `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. We keep
//! one parser for that grammar, in `slipway-oci`, so the engine path and the registry path can
//! never disagree about what a valid name is.

use serde::{Deserialize, Serialize};
use slipway_oci::Reference;
use ts_rs::TS;

use crate::{Error, ErrorDto, Result};

/// Validates an image reference (`[host[:port]/]name[:tag][@digest]`).
pub fn check_reference(input: &str) -> Result<Reference> {
    Reference::parse(input).map_err(|source| Error::invalid_reference(input, source))
}

/// Validates a reference that will name a new tag: it must not carry a digest, which the engine
/// computes and cannot be told.
pub fn check_tag_target(input: &str) -> Result<Reference> {
    let reference = check_reference(input)?;
    if reference.digest().is_some() {
        return Err(Error::InvalidInput(format!(
            "`{input}` contains a digest; a new tag is written NAME:TAG, the digest is computed \
             when the image is pushed"
        )));
    }
    Ok(reference)
}

/// What is wrong with a repository and a tag typed in two fields, each judged on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NameCheck {
    pub repository: Option<ErrorDto>,
    pub tag: Option<ErrorDto>,
}

/// Checks a repository (`[host[:port]/]name`) and a tag separately, so a form can show each
/// broken rule under the field that broke it while the user types. Each part is checked beside
/// a known-good other part, so an error names only that part.
pub fn check_parts(repository: &str, tag: &str) -> NameCheck {
    let check = |reference: String| {
        check_tag_target(&reference)
            .err()
            .map(|e| ErrorDto::from(&e))
    };
    NameCheck {
        repository: check(format!("{repository}:latest")),
        tag: check(format!("slipway/name-check:{tag}")),
    }
}

/// Splits a validated tag target into the repository and tag as the user wrote them (the engine
/// normalises Docker Hub names itself).
pub fn split_target<'a>(input: &'a str, reference: &Reference) -> (&'a str, Option<&'a str>) {
    match reference.tag() {
        Some(tag) => (
            &input[..input.len() - tag.len() - 1],
            Some(&input[input.len() - tag.len()..]),
        ),
        None => (input, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_names_say_which_rule() {
        let error = check_reference("127.0.0.1:5000/Team/hello:1.0").unwrap_err();
        assert_eq!(error.code(), "invalid_reference");
        assert!(
            error.to_string().to_lowercase().contains("uppercase"),
            "{error}"
        );
    }

    #[test]
    fn bad_tags_are_refused() {
        assert!(check_reference("team/hello:-bad").is_err());
        assert!(check_reference(&format!("team/hello:{}", "a".repeat(129))).is_err());
        assert!(check_tag_target(
            "team/hello@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        )
        .is_err());
    }

    #[test]
    fn split_target_keeps_the_port() {
        let input = "127.0.0.1:5000/team/hello:1.0";
        let reference = check_tag_target(input).unwrap();
        assert_eq!(
            split_target(input, &reference),
            ("127.0.0.1:5000/team/hello", Some("1.0"))
        );
        let input = "127.0.0.1:5000/team/hello";
        let reference = check_tag_target(input).unwrap();
        assert_eq!(split_target(input, &reference), (input, None));
    }

    #[test]
    fn each_field_gets_only_its_own_error() {
        let ok = check_parts("127.0.0.1:5000/team/hello", "1.0");
        assert_eq!((ok.repository, ok.tag), (None, None));

        let bad_repo = check_parts("127.0.0.1:5000/Team/hello", "1.0");
        let repo_err = bad_repo.repository.expect("uppercase repository refused");
        assert!(repo_err.message.contains("uppercase"), "{repo_err:?}");
        assert_eq!(bad_repo.tag, None);

        let bad_tag = check_parts("team/hello", "-1.0");
        assert_eq!(bad_tag.repository, None);
        assert_eq!(bad_tag.tag.expect("tag refused").code, "invalid_reference");
    }
}
