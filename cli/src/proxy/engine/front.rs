//! The listener: the per-run credential, CONNECT (tunnel or intercept), and plain-HTTP
//! forwarding.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::target::Target;
use super::{BoxError, ProxyBody, Shared, intercept, upstream};

/// Accepts connections until `stop` fires (or its sender is dropped).
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                // A failed accept (too many open files, say) drops that one connection only.
                let Ok((tcp, _)) = accepted else { continue };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(serve(shared.clone(), tcp));
            }
        }
    }
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let service = service_fn(move |req| handle(shared.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades()
        .await;
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    if !authorized(&shared, &req) {
        let mut resp = text(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "envx proxy: authentication required\n",
        );
        resp.headers_mut().insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"envx\""),
        );
        return Ok(resp);
    }
    if req.method() == Method::CONNECT {
        return Ok(connect(shared, req).await);
    }
    if req.uri().scheme_str() == Some("http") {
        return Ok(plain(&shared, req).await);
    }
    Ok(text(
        StatusCode::BAD_REQUEST,
        "envx proxy: only CONNECT and http:// requests\n",
    ))
}

/// Does the request carry `Proxy-Authorization: Basic base64(envx:CREDENTIAL)`?
fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(value) = req.headers().get(header::PROXY_AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    let Some(encoded) = value
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .and_then(|_| value.get(6..))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii()) else {
        return false;
    };
    let decoded = zeroize::Zeroizing::new(decoded);
    constant_time_eq(&decoded, &shared.auth)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn connect(shared: Arc<Shared>, req: Request<Incoming>) -> Response<ProxyBody> {
    let Some(target) = req
        .uri()
        .authority()
        .and_then(|a| Target::parse(a.as_str(), None))
    else {
        return text(
            StatusCode::BAD_REQUEST,
            "envx proxy: CONNECT needs host:port\n",
        );
    };
    if shared.vault.names_host(&target.host, target.port) {
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                intercept::serve(shared, target, TokioIo::new(upgraded)).await;
            }
        });
        return empty(StatusCode::OK);
    }
    // Not ruled: reach the upstream first, so a failure is a 502 the client can read.
    let upstream = match upstream::connect_tcp(&target, shared.extra_upstream()).await {
        Ok(tcp) => tcp,
        Err(e) => {
            return text(
                StatusCode::BAD_GATEWAY,
                &format!("envx proxy: cannot reach {}: {e}\n", target.authority()),
            );
        }
    };
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut client = TokioIo::new(upgraded);
            let mut upstream = upstream;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    });
    empty(StatusCode::OK)
}

/// `GET http://host/path`: forwarded as it is, without substitution (a secret never goes out
/// in clear text) and without the proxy's own headers.
async fn plain(shared: &Shared, req: Request<Incoming>) -> Response<ProxyBody> {
    let Some(target) = req
        .uri()
        .authority()
        .and_then(|a| Target::parse(a.as_str(), Some(80)))
    else {
        return text(
            StatusCode::BAD_REQUEST,
            "envx proxy: no host in the request\n",
        );
    };
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let Ok(uri) = path.parse() else {
        return text(StatusCode::BAD_REQUEST, "envx proxy: bad request target\n");
    };
    parts.uri = uri;
    strip_hop_by_hop(&mut parts.headers);
    let request = Request::from_parts(parts, body.map_err(|e| Box::new(e) as BoxError).boxed());
    let result: Result<_, String> = async {
        let tcp = upstream::connect_tcp(&target, shared.extra_upstream())
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.map_err(|e| Box::new(e) as BoxError).boxed())
        }
        Err(e) => text(
            StatusCode::BAD_GATEWAY,
            &format!("envx proxy: cannot reach {}: {e}\n", target.authority()),
        ),
    }
}

/// Removes the headers that describe one hop (RFC 9110 section 7.6.1) and the proxy's own.
pub fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// A short text response.
pub fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut resp = Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp
}
