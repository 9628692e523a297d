//! The page's TypeScript declarations, generated from the DTOs and events this crate sends it.
//!
//! `ui/js/types/*.d.ts` are checked in and imported by ui/js through JSDoc
//! (`@typedef {import('./types/PushEvent').PushEvent}`), so `tsc --checkJs` (run by `./dev test`)
//! rejects a page that reads a field the core never sends. The test below fails when a file is
//! stale; `SLIPWAY_WRITE_UI_TYPES=1 cargo test -p slipway-core ui_types` rewrites them.

use std::path::{Path, PathBuf};

use ts_rs::TS;

use crate::commit::{CommitOutcome, CommitRequest};
use crate::containers::ContainerDto;
use crate::diff::{ChangeDto, ChangeKindDto};
use crate::engine::EngineStatus;
use crate::error::ErrorDto;
use crate::fetch::{FetchEvent, FetchOutcome};
use crate::images::{HistoryDto, ImageDetailsDto, ImageDto, PullEvent};
use crate::local_registry::LocalRegistryStatus;
use crate::names::NameCheck;
use crate::profiles::RegistryProfile;
use crate::pull_back::PullCommands;
use crate::push::{How, PushEvent, PushOutcome, PushPhase, PushedLayer, Route};
use crate::registry::{
    BlobDto, CatalogPage, CopyEvent, CopyOutcome, DeletePlan, DeleteScope, Elsewhere,
    PlannedManifest, RemoteHistoryDto, RemoteImageDto, Selection, Snippet, TagPage, TagRow,
    TagSort, Usage, UsageEntry,
};
use crate::registry_gc::{GcBlob, GcReport};
use crate::terminal::TerminalEvent;
use crate::workshop_log::{LogEntry, WorkshopLog};

/// One declaration file: its name and its text.
fn declaration<T: TS + 'static>() -> (String, String) {
    let text = T::export_to_string().expect("every exported type is a named, exportable DTO");
    // ts-rs writes Rust's u64/i64 as `bigint`, but serde_json sends JSON numbers, which JSON.parse
    // reads as `number`; sizes and times stay far below 2^53.
    (
        format!("{}.d.ts", T::ident()),
        text.replace("bigint", "number"),
    )
}

/// Every type the page receives, directly or inside another.
fn declarations() -> Vec<(String, String)> {
    vec![
        declaration::<CommitOutcome>(),
        declaration::<CommitRequest>(),
        declaration::<LocalRegistryStatus>(),
        declaration::<NameCheck>(),
        declaration::<RegistryProfile>(),
        declaration::<LogEntry>(),
        declaration::<WorkshopLog>(),
        declaration::<ContainerDto>(),
        declaration::<ChangeDto>(),
        declaration::<ChangeKindDto>(),
        declaration::<EngineStatus>(),
        declaration::<ErrorDto>(),
        declaration::<FetchEvent>(),
        declaration::<FetchOutcome>(),
        declaration::<HistoryDto>(),
        declaration::<ImageDetailsDto>(),
        declaration::<ImageDto>(),
        declaration::<PullEvent>(),
        declaration::<PullCommands>(),
        declaration::<How>(),
        declaration::<PushEvent>(),
        declaration::<PushOutcome>(),
        declaration::<PushPhase>(),
        declaration::<PushedLayer>(),
        declaration::<Route>(),
        declaration::<BlobDto>(),
        declaration::<CatalogPage>(),
        declaration::<CopyEvent>(),
        declaration::<CopyOutcome>(),
        declaration::<DeletePlan>(),
        declaration::<DeleteScope>(),
        declaration::<PlannedManifest>(),
        declaration::<Selection>(),
        declaration::<Elsewhere>(),
        declaration::<Snippet>(),
        declaration::<Usage>(),
        declaration::<UsageEntry>(),
        declaration::<TagPage>(),
        declaration::<TagSort>(),
        declaration::<GcBlob>(),
        declaration::<GcReport>(),
        declaration::<RemoteHistoryDto>(),
        declaration::<RemoteImageDto>(),
        declaration::<TagRow>(),
        declaration::<TerminalEvent>(),
    ]
}

fn types_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/js/types")
}

#[test]
fn ui_types_match_the_rust_dtos() {
    let dir = types_dir();
    let write = std::env::var_os("SLIPWAY_WRITE_UI_TYPES").is_some();
    let mut stale = Vec::new();
    for (name, text) in declarations() {
        let path = dir.join(&name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if write {
            std::fs::create_dir_all(&dir).expect("ui/js/types is writable");
            std::fs::write(&path, text).expect("ui/js/types is writable");
        } else {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "ui/js/types is stale for {stale:?}; run `SLIPWAY_WRITE_UI_TYPES=1 cargo test -p slipway-core ui_types` and commit the result"
    );
}
