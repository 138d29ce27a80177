//! `api/user/*`: login state, password_type 4 login, SCRAM login, logout.

use super::reply::{Ctx, Reply};
use crate::code as codes;
use crate::sim::config::Profile;
use crate::sim::state::State;
use crate::sim::state::sessions::{PendingScram, random_string};
use crate::sim::xml::{Element, XmlOut};
use crate::{auth, headers};

/// Iterations the simulated device asks for in `challenge_login`.
const SCRAM_ITERATIONS: u32 = 100;

/// The RSA modulus the 10.x device hands out after SCRAM (hex; the simulator never
/// decrypts anything with it).
const RSA_N: &str = "c473eb11f8965795357d4d6b2b753eceadfde59d73b75daa724d1d744f905493539d0ea9335e1c93b0d9ede6ec507fa34c9c5c12b6cfa46a6f070b4d5075f05ede386707f9fd307fde1cbb61b1185a5773be75a07d2fc05db141a24545e8bd8a9410fc644a2898702bf9b146c682bd6d944a68ba161855693d936f095926a4318d53eb95a94a4bad027b89e58fcabc714e1ce590214d03400e21aa349bf7ef2be57d5bf49c87f84fa69867c59ed684ab09d1db2f39a47bc386d6f61da9efc089ebf6b4d9434cf2ce426a3a18e7f2f55c8d3e5682902dd68885df79efa5e3ef1bfe16b69d9bc96647088de16af86cec2c8a0925badc2f2a6057d9f94fefa80a7b";

/// GET handlers; `None` for an unknown name.
pub(super) fn get(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Option<Reply> {
    if ctx.profile == Profile::E303 {
        return None;
    }
    let reply = match name {
        "hilink_login" => {
            let mut out = XmlOut::response();
            out.leaf("hilink_login", u8::from(ctx.profile.login_required()));
            Reply::xml(out.finish())
        }
        "state-login" => {
            let logged_in = ctx.session_in(state).is_some_and(|s| s.logged_in);
            let config = ctx.sim.config();
            let mut out = XmlOut::response();
            out.leaf("State", if logged_in { "0" } else { "-1" })
                .leaf(
                    "Username",
                    if logged_in {
                        config.username.as_str()
                    } else {
                        ""
                    },
                )
                .leaf("password_type", 4);
            if ctx.profile == Profile::E3372h320 {
                out.leaf("extern_password_type", 1)
                    .leaf("firstlogin", 0)
                    .leaf("rsapadingtype", 1)
                    .leaf("lockstatus", 0)
                    .leaf("remainwaittime", 0)
                    .leaf("userlevel", "");
            }
            Reply::xml(out.finish())
        }
        _ => return None,
    };
    Some(reply)
}

/// POST handlers; `None` for an unknown name.
pub(super) fn post(
    state: &mut State,
    ctx: &Ctx<'_>,
    name: &str,
    request: &Element,
) -> Option<Reply> {
    if ctx.profile == Profile::E303 {
        return None;
    }
    let reply = match name {
        "login" => login(state, ctx, request),
        "challenge_login" => challenge(state, ctx, request),
        "authentication_login" => authenticate(state, ctx, request),
        "logout" => match ctx.session_in(state) {
            Some(s) if s.logged_in || !ctx.profile.login_required() => {
                s.logged_in = false;
                Reply::ok()
            }
            _ => Reply::error(codes::NO_RIGHT),
        },
        _ => return None,
    };
    Some(reply)
}

/// A successful login: a new session id (Set-Cookie) and fresh tokens.
fn logged_in(
    state: &mut State,
    ctx: &Ctx<'_>,
    reply: Reply,
    token_headers: &[&'static str],
) -> Reply {
    let old = ctx.session.clone().unwrap_or_default();
    let id = state.sessions.rotate(&old, true);
    let mut reply = reply.set_cookie(&id);
    if let Some(session) = state.sessions.get_mut(&id) {
        for name in token_headers {
            let token = session.issue_token();
            reply = reply.header(name, token);
        }
    }
    reply.tokens_set = true;
    tracing::debug!("simulated login succeeded");
    reply
}

/// `user/login` with password_type 4 (or 0, plain base64).
fn login(state: &mut State, ctx: &Ctx<'_>, request: &Element) -> Reply {
    let config = ctx.sim.config();
    let username = request.trimmed("Username").unwrap_or_default();
    let password = request.trimmed("Password").unwrap_or_default();
    let expected = match request.trimmed("password_type").unwrap_or("0") {
        "4" => auth::password_type4(
            &config.username,
            &config.password,
            ctx.token.as_deref().unwrap_or_default(),
        ),
        "0" | "" | "3" => auth::password_type0(&config.password),
        _ => return Reply::error(codes::PARAMETER_ERROR),
    };
    if username != config.username || password != expected {
        return Reply::error(codes::USERNAME_OR_PASSWORD_WRONG);
    }
    logged_in(state, ctx, Reply::ok(), &[headers::TOKEN])
}

/// SCRAM step 1: the device's nonce, salt and iteration count.
fn challenge(state: &mut State, ctx: &Ctx<'_>, request: &Element) -> Reply {
    let first_nonce = request.trimmed("firstnonce").unwrap_or_default().to_owned();
    if first_nonce.is_empty() {
        return Reply::error(codes::PARAMETER_ERROR);
    }
    if request.trimmed("username") != Some(ctx.sim.config().username.as_str()) {
        return Reply::error(codes::USERNAME_OR_PASSWORD_WRONG);
    }
    let salt = hex::encode(random_string(32).as_bytes());
    let server_nonce = format!(
        "{first_nonce}{}",
        random_string(32).replace(['+', '/'], "x")
    );
    let mut out = XmlOut::response();
    out.leaf("salt", &salt)
        .leaf("iterations", SCRAM_ITERATIONS)
        .leaf("servernonce", &server_nonce)
        .leaf("modeselected", 1)
        .leaf("newType", 0);
    if let Some(s) = ctx.session_in(state) {
        s.scram = Some(PendingScram {
            first_nonce,
            server_nonce,
            salt,
        });
    }
    Reply::xml(out.finish())
}

/// SCRAM step 2: checks the client proof and proves the device knows the password too.
fn authenticate(state: &mut State, ctx: &Ctx<'_>, request: &Element) -> Reply {
    let Some(challenge) = ctx.session_in(state).and_then(|s| s.scram.take()) else {
        return Reply::error(codes::PARAMETER_ERROR);
    };
    if request.trimmed("finalnonce") != Some(challenge.server_nonce.as_str()) {
        return Reply::error(codes::USERNAME_OR_PASSWORD_WRONG);
    }
    let Ok(salt) = hex::decode(&challenge.salt) else {
        return Reply::error(codes::PARAMETER_ERROR);
    };
    let keys = auth::scram(
        &ctx.sim.config().password,
        &salt,
        SCRAM_ITERATIONS,
        &challenge.first_nonce,
        &challenge.server_nonce,
    );
    let sent = request.trimmed("clientproof").unwrap_or_default();
    if !sent.eq_ignore_ascii_case(&hex::encode(keys.client_proof)) {
        return Reply::error(codes::USERNAME_OR_PASSWORD_WRONG);
    }
    let key_signature = auth::rsa_pubkey_signature(&keys.server_key, RSA_N)
        .map(hex::encode)
        .unwrap_or_default();
    let mut out = XmlOut::response();
    out.leaf("serversignature", hex::encode(keys.server_signature))
        .leaf("rsapubkeysignature", key_signature)
        .leaf("rsan", RSA_N)
        .leaf("rsae", "010001");
    logged_in(
        state,
        ctx,
        Reply::xml(out.finish()),
        &[headers::TOKEN_ONE, headers::TOKEN_TWO],
    )
}
