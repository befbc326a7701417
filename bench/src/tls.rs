//! The TLS peer: a rustls 0.23 TLS 1.3 handshake with mutual
//! authentication by ed25519 certificates (made by rcgen), in memory, then
//! one request record and one response record — the job of one Beckon
//! exchange done the usual way.
//!
//! * The request carries the invitation's bytes (application id, message,
//!   data, as in Beckon's Invite), the response the answer's (2 bytes). The
//!   identities travel in the certificates.
//! * Key exchange X25519; rustls's preferred cipher suite on this machine
//!   (reported); the `ring` crypto provider.
//! * No resumption: no session cache on the client, no tickets from the
//!   server (rustls would otherwise send two by default, which this
//!   exchange does not need). Every exchange is a full handshake.
//! * [`TlsMode::WebPki`] is the standard setup: a CA certificate as the
//!   trust anchor on both sides, each end-entity certificate checked by
//!   webpki (chain signature, validity, name on the server's). It is the
//!   one the goal is measured against.
//! * [`TlsMode::Pinned`] is the cheapest honest TLS for Beckon's model of
//!   trust (a known key per contact): each side accepts exactly one
//!   certificate, byte for byte, and checks only the handshake signature.

use std::io::{Read, Write};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ED25519,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, DigitallySignedStruct, DistinguishedName,
    RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
};

use crate::exchange::{Case, Fixture, Wire};

/// The server's name, in its certificate.
const SERVER_NAME: &str = "bob.beckon.test";

/// How the peers check each other's certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// A CA as trust anchor, webpki verification (the standard setup).
    WebPki,
    /// Exactly one accepted certificate per side; the handshake signature
    /// checked against it.
    Pinned,
}

/// Both configurations, the request and the response.
pub struct TlsFixture {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: ServerName<'static>,
    request: Vec<u8>,
    response: Vec<u8>,
    buf: Vec<u8>,
    received: Vec<u8>,
}

/// The certificates: a CA, and an end-entity certificate and key for each
/// side, all ed25519.
struct Pki {
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>),
    client: (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>),
}

fn pki() -> Result<Pki, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "beckon bench CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate_for(&PKCS_ED25519)?)?;
    let leaf = |name: &str| -> Result<_, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let mut params = CertificateParams::new(vec![name.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &ca)?;
        Ok((
            cert.der().clone(),
            PrivatePkcs8KeyDer::from(key.serialize_der()),
        ))
    };
    Ok(Pki {
        server: leaf(SERVER_NAME)?,
        client: leaf("alice.beckon.test")?,
        ca: ca.der().clone(),
    })
}

/// Accepts exactly one certificate, checking the handshake signature with
/// its key.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if presented.as_ref() == self.cert.as_ref() {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }
}

/// The handshake-signature methods that `ServerCertVerifier` and
/// `ClientCertVerifier` both declare, the same for either side: checked
/// with the pinned key's algorithms.
macro_rules! pinned_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    pinned_signature_checks!();
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    pinned_signature_checks!();
}

/// Why a fixture could not be made.
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

fn setup<E: std::fmt::Display>(e: E) -> SetupError {
    SetupError(e.to_string())
}

impl TlsFixture {
    /// Fresh certificates and both configurations, for the invitation of
    /// `case`.
    pub fn new(fx: &Fixture, case: Case, mode: TlsMode) -> Result<Self, SetupError> {
        let pki = pki().map_err(setup)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let key = |k: &PrivatePkcs8KeyDer<'static>| PrivateKeyDer::Pkcs8(k.clone_key());

        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(setup)?;
        let client = match mode {
            TlsMode::WebPki => {
                let mut roots = RootCertStore::empty();
                roots.add(pki.ca.clone()).map_err(setup)?;
                client.with_root_certificates(roots)
            }
            TlsMode::Pinned => client
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    cert: pki.server.0.clone(),
                    algorithms,
                })),
        };
        let mut client = client
            .with_client_auth_cert(vec![pki.client.0.clone()], key(&pki.client.1))
            .map_err(setup)?;
        client.resumption = Resumption::disabled();

        let verifier: Arc<dyn ClientCertVerifier> = match mode {
            TlsMode::WebPki => {
                let mut roots = RootCertStore::empty();
                roots.add(pki.ca.clone()).map_err(setup)?;
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(setup)?
            }
            TlsMode::Pinned => Arc::new(Pinned {
                cert: pki.client.0.clone(),
                algorithms,
            }),
        };
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(setup)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![pki.server.0.clone()], key(&pki.server.1))
            .map_err(setup)?;
        server.send_tls13_tickets = 0;

        Ok(TlsFixture {
            client: Arc::new(client),
            server: Arc::new(server),
            name: ServerName::try_from(SERVER_NAME).map_err(setup)?,
            request: fx.invitation_plaintext(case),
            response: vec![1, 0],
            buf: Vec::with_capacity(64 * 1024),
            received: vec![0u8; 64 * 1024],
        })
    }

    /// The cipher suite the handshake agrees on, and the key exchange
    /// group, as rustls names them.
    pub fn negotiated(&mut self) -> Result<String, String> {
        let (client, _) = self.connect()?;
        let suite = client
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        let group = client
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
            .unwrap_or_default();
        Ok(format!("{suite}, {group}"))
    }

    fn connect(&mut self) -> Result<(ClientConnection, Wire), String> {
        let mut wire = Wire::default();
        let mut client = ClientConnection::new(Arc::clone(&self.client), self.name.clone())
            .map_err(|e| e.to_string())?;
        let mut server =
            ServerConnection::new(Arc::clone(&self.server)).map_err(|e| e.to_string())?;
        // The request is buffered until the handshake's keys are there, and
        // leaves with the client's Finished, as an application would send it.
        client
            .writer()
            .write_all(&self.request)
            .map_err(|e| e.to_string())?;
        let mut got = 0;
        pump(
            &mut client,
            &mut server,
            &mut self.buf,
            &mut wire,
            &mut self.received,
            &mut got,
        )?;
        if self.received.get(..got) != Some(&self.request[..]) {
            return Err(format!("request: {got} bytes received"));
        }
        server
            .writer()
            .write_all(&self.response)
            .map_err(|e| e.to_string())?;
        let mut answer = [0u8; 2];
        let mut got_answer = 0;
        pump_back(&mut server, &mut client, &mut self.buf, &mut wire)?;
        while got_answer < answer.len() {
            match client.reader().read(&mut answer[got_answer..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got_answer += n,
            }
        }
        if answer[..] != self.response[..] {
            return Err("response".into());
        }
        Ok((client, wire))
    }
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn tls(e: rustls::Error) -> String {
    e.to_string()
}

/// Moves records both ways until neither side has any to send; the
/// server's received plaintext goes to `received`.
fn pump(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
    buf: &mut Vec<u8>,
    wire: &mut Wire,
    received: &mut [u8],
    got: &mut usize,
) -> Result<(), String> {
    loop {
        let sent = move_records(client, server, buf, |server| {
            // Take the plaintext out as it comes, so that a large request
            // never fills rustls's buffer.
            loop {
                match server
                    .reader()
                    .read(received.get_mut(*got..).unwrap_or(&mut []))
                {
                    Ok(n) if n > 0 => *got += n,
                    _ => break,
                }
            }
        })?;
        wire.a_to_b += sent;
        let back = pump_back(server, client, buf, wire)?;
        if sent == 0 && back == 0 {
            return Ok(());
        }
    }
}

/// Moves the server's records to the client; returns how many bytes they
/// were.
fn pump_back(
    server: &mut ServerConnection,
    client: &mut ClientConnection,
    buf: &mut Vec<u8>,
    wire: &mut Wire,
) -> Result<usize, String> {
    let back = move_records(server, client, buf, |_| {})?;
    wire.b_to_a += back;
    Ok(back)
}

/// Moves every record `from` has to send to `to`, by way of `buf`, calling
/// `taken` each time `to` has processed a batch of them; returns how many
/// bytes they were.
fn move_records<A, B>(
    from: &mut ConnectionCommon<A>,
    to: &mut ConnectionCommon<B>,
    buf: &mut Vec<u8>,
    mut taken: impl FnMut(&mut ConnectionCommon<B>),
) -> Result<usize, String> {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf).map_err(io)?;
    }
    let mut data = &buf[..];
    while !data.is_empty() {
        to.read_tls(&mut data).map_err(io)?;
        to.process_new_packets().map_err(tls)?;
        taken(to);
    }
    Ok(buf.len())
}

/// One exchange: a full handshake with mutual authentication, the request,
/// the response. Returns the bytes on the wire (TLS records).
#[inline(never)]
pub fn tls_exchange(f: &mut TlsFixture) -> Result<Wire, String> {
    f.connect().map(|(_, wire)| wire)
}
