//! Registry profiles. The password never enters the profile file: it goes to the credential store.

use slipway_core::profiles::{ProfileStore, RegistryProfile};

use tauri::State;

use crate::commands::ops::Ops;
use crate::error::CmdResult;

fn store() -> CmdResult<ProfileStore> {
    Ok(ProfileStore::at_default_path()?)
}

#[tauri::command]
pub fn profiles_list() -> CmdResult<Vec<RegistryProfile>> {
    Ok(store()?.list()?)
}

/// Saves a profile; a password is checked against the registry (under `op_id`, so the page can
/// stop a registry that does not answer) and kept in the credential store, never in the profile
/// file.
#[tauri::command]
pub async fn profile_save(
    ops: State<'_, Ops>,
    profile: RegistryProfile,
    password: Option<String>,
    op_id: String,
) -> CmdResult<RegistryProfile> {
    // The password is checked before anything is saved, so a typo leaves no half-made profile.
    slipway_core::profiles::validate_address(&profile.address)?;
    if let Some(pw) = password.as_deref().filter(|p| !p.is_empty()) {
        let check = slipway_core::profiles::remember_password(&profile, pw);
        ops.run(&op_id, async { Ok(check.await?) }).await?;
    }
    Ok(store()?.save(profile)?)
}

#[tauri::command]
pub fn profile_remove(name: String) -> CmdResult<()> {
    Ok(store()?.remove(&name)?)
}
