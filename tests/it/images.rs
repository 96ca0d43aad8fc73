//! A loopback image host with every case the worker must handle.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::helpers::jpeg;

/// The fixtures, drawn once per test process.
pub struct Fixtures {
    pub face: Vec<u8>,
    pub rotated: Vec<u8>,
    pub landscape: Vec<u8>,
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| Fixtures {
        face: jpeg::face(240, 320),
        rotated: jpeg::face_oriented(320, 240, 6),
        landscape: jpeg::face(320, 240),
    })
}

fn jpeg_response(bytes: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
}

/// Serves the cases on a free loopback port; returns the base URL.
pub async fn serve() -> String {
    fixtures(); // drawn before the first request, not during it
    let app = Router::new()
        .route(
            "/face.jpg",
            get(|| async { jpeg_response(&fixtures().face) }),
        )
        .route(
            "/rotated.jpg",
            get(|| async { jpeg_response(&fixtures().rotated) }),
        )
        .route(
            "/landscape.jpg",
            get(|| async { jpeg_response(&fixtures().landscape) }),
        )
        .route(
            "/truncated.jpg",
            get(|| async { jpeg_response(&fixtures().face[..fixtures().face.len() / 2]) }),
        )
        .route(
            "/image.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], jpeg::png()).into_response() }),
        )
        .route("/missing.jpg", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/broken.jpg",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/stall.jpg",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/loop.jpg",
            get(|| async { Redirect::temporary("/loop.jpg") }),
        )
        .route("/flaky-once.jpg", get(flaky_once()))
        .route(
            "/moved.jpg",
            get(|| async { Redirect::permanent("/face.jpg") }),
        )
        .route(
            "/huge.jpg",
            get(|| async {
                // 24 MB, over image.max_bytes, streamed without a content length.
                let chunks = (0..24).map(|_| Ok::<_, std::io::Error>(vec![0xFFu8; 1 << 20]));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A handler that answers 503 the first time, then the face.
fn flaky_once() -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    move || {
        let failed = failed.clone();
        Box::pin(async move {
            if failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                jpeg_response(&fixtures().face)
            } else {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        })
    }
}
