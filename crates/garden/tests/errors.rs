//! Every error kind the process backend can produce, from the call that produces it.

mod common;

use common::{TestDepot, sh};
use ingot_garden::{
    ContainerSpec, Error, Garden, ProcessConfig, ProcessGarden, ProcessIo, ProcessSpec,
};

#[tokio::test]
async fn unknown_handles_are_container_not_found() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    assert_eq!(
        garden.destroy("nope").await.unwrap_err(),
        Error::container_not_found("nope")
    );
    assert_eq!(
        garden.lookup("nope").await.err().unwrap(),
        Error::container_not_found("nope")
    );
    let bulk = garden.bulk_info(&["nope".to_string()]).await.unwrap();
    assert_eq!(bulk["nope"], Err(Error::container_not_found("nope")));
}

#[tokio::test]
async fn a_destroyed_container_is_not_found() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    garden.destroy(container.handle()).await.unwrap();
    let not_found = Error::container_not_found(container.handle());
    assert_eq!(container.info().await.unwrap_err(), not_found);
    assert_eq!(container.stop(false).await.unwrap_err(), not_found);
    assert_eq!(
        container
            .run(sh("true"), ProcessIo::default())
            .await
            .err()
            .unwrap(),
        not_found
    );
    assert_eq!(
        garden.destroy(container.handle()).await.unwrap_err(),
        not_found
    );
}

#[tokio::test]
async fn missing_executables_are_executable_not_found() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    for path in ["/no/such/binary", "no-such-binary-anywhere"] {
        let spec = ProcessSpec {
            path: path.into(),
            ..ProcessSpec::default()
        };
        assert_eq!(
            container
                .run(spec, ProcessIo::default())
                .await
                .err()
                .unwrap(),
            Error::ExecutableNotFound { path: path.into() }
        );
    }
    // A failed start leaves no process behind.
    assert!(container.info().await.unwrap().process_ids.is_empty());
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn unknown_process_ids_are_process_not_found() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    assert_eq!(
        container
            .attach("nope", ProcessIo::default())
            .await
            .err()
            .unwrap(),
        Error::process_not_found("nope")
    );
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn a_taken_handle_is_already_exists() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let spec = ContainerSpec {
        handle: "twice".into(),
        ..ContainerSpec::default()
    };
    garden.create(spec.clone()).await.unwrap();
    assert_eq!(
        garden.create(spec).await.err().unwrap(),
        Error::AlreadyExists {
            handle: "twice".into()
        }
    );
    garden.destroy("twice").await.unwrap();
}

#[tokio::test]
async fn bad_specs_and_paths_are_invalid_spec() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let bad = ContainerSpec {
        handle: "a/b".into(),
        env: vec!["novalue".into()],
        ..ContainerSpec::default()
    };
    match garden.create(bad).await.err().unwrap() {
        Error::InvalidSpec { fields } => assert_eq!(fields.len(), 2),
        other => panic!("{other:?}"),
    }
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let empty: Box<dyn tokio::io::AsyncRead + Send + Unpin> = Box::new(tokio::io::empty());
    assert!(matches!(
        container.stream_in("/../outside", empty).await,
        Err(Error::InvalidSpec { .. })
    ));
    let mut spec = sh("true");
    spec.id = Some("same".into());
    let first = container
        .run(spec.clone(), ProcessIo::default())
        .await
        .unwrap();
    first.wait().await.unwrap();
    assert!(matches!(
        container.run(spec, ProcessIo::default()).await,
        Err(Error::InvalidSpec { .. })
    ));
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn missing_paths_are_io_errors() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    assert!(matches!(
        container.stream_out("/not/there").await,
        Err(Error::Io { .. })
    ));
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn the_container_limit_is_service_unavailable() {
    let depot = TestDepot::new();
    let config = ProcessConfig {
        max_containers: 1,
        ..depot.config()
    };
    let garden = ProcessGarden::open(config).await.unwrap();
    garden.create(ContainerSpec::default()).await.unwrap();
    assert!(matches!(
        garden.create(ContainerSpec::default()).await,
        Err(Error::ServiceUnavailable { .. })
    ));
}

#[tokio::test]
async fn a_missing_depot_is_service_unavailable() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    garden.ping().await.unwrap();
    assert!(garden.capacity().await.unwrap().memory_bytes > 0);
    std::fs::remove_dir_all(depot.dir.path()).unwrap();
    assert!(matches!(
        garden.ping().await,
        Err(Error::ServiceUnavailable { .. })
    ));
}
