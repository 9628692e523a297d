//! A real registry with deletes disabled answers 405, and Slipway's error names the
//! setting that enables them. Its own test binary, because the registry reads the setting from
//! the environment it inherits.

use slipway_core::registry::{self, DeleteScope, RegistryAccess};
use slipway_tests::{anonymous_client, push_tiny_image, Registry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_a_registry_with_deletes_disabled_names_the_setting() {
    // The only test in this binary, so no other thread reads the environment meanwhile.
    std::env::set_var("REGISTRY_STORAGE_DELETE_ENABLED", "false");
    let reg = Registry::plain();
    std::env::remove_var("REGISTRY_STORAGE_DELETE_ENABLED");

    let client = anonymous_client(&reg.addr());
    push_tiny_image(&client, "nodelete/app", "1").await;

    let access = RegistryAccess {
        anonymous: true,
        ..Default::default()
    };
    let caps = registry::probe(&reg.addr(), &access).await.unwrap();
    assert_eq!(caps.delete, Some(false), "{caps:?}");
    let err = registry::delete(
        &format!("{}/nodelete/app:1", reg.addr()),
        &access,
        DeleteScope::Tag,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "delete_disabled", "{err}");
    assert!(
        err.to_string().contains("storage: delete: enabled: true"),
        "{err}"
    );
    // Nothing was deleted.
    assert!(client
        .head_manifest("nodelete/app", "1")
        .await
        .unwrap()
        .is_some());
}
