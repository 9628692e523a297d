//! Registry profiles. The password never enters the profile file: it goes to the credential store.

use slipway_core::profiles::{ProfileStore, RegistryProfile};

use crate::error::{app_error, CmdResult};

fn store() -> CmdResult<ProfileStore> {
    Ok(ProfileStore::at_default_path()?)
}

#[tauri::command]
pub fn profiles_list() -> CmdResult<Vec<RegistryProfile>> {
    Ok(store()?.list()?)
}

#[tauri::command]
pub fn profile_save(
    profile: RegistryProfile,
    password: Option<String>,
) -> CmdResult<RegistryProfile> {
    if password.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(app_error(
            "unsupported",
            "saving a password needs the credential store, which this build does not have yet; use \"Use my Docker credentials\" after `docker login`",
        ));
    }
    Ok(store()?.save(profile)?)
}

#[tauri::command]
pub fn profile_remove(name: String) -> CmdResult<()> {
    Ok(store()?.remove(&name)?)
}
