//! File uploads (multipart bodies) on every message route, the simulated CDN, and ATTACHMENT options;
//! the bot's side is twilight-http wherever it can send the request, so the simulator is known to accept
//! exactly what twilight sends.

use disconcierge_discord_sim::{DiscordSim, Method, OptionValue, Via};
use serde_json::{Value, json};
use twilight_model::application::command::Command;
use twilight_model::application::interaction::InteractionData;
use twilight_model::application::interaction::application_command::CommandOptionValue;
use twilight_model::channel::Attachment as MessageAttachment;
use twilight_model::channel::message::Component;
use twilight_model::http::attachment::Attachment;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::common::{http, register_chat};

const KB: &[u8] = br#"{"entries":[{"question":"Refunds?","answer":"Within 30 days."}]}"#;

/// GETs an attachment URL without any credentials, as a browser or the bot's HTTP client would.
async fn download(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

/// Checks that an attachment is served at its `url` and `proxy_url` and stored with these bytes.
async fn assert_served(sim: &DiscordSim, a: &MessageAttachment, bytes: &[u8]) {
    assert!(
        a.url.starts_with(&sim.api_base_url()),
        "{} is served by the simulator",
        a.url
    );
    assert_eq!(a.size, bytes.len() as u64);
    for url in [&a.url, &a.proxy_url] {
        let (status, ct, got) = download(url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(ct, a.content_type, "{url}");
        assert_eq!(got, bytes, "{url}");
    }
    assert_eq!(sim.attachment_bytes(a), bytes);
}

/// One part of a hand-made multipart body: name, filename, content type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body as Discord documents it, for requests twilight cannot be made to send.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "sim-test-boundary";
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(format!("{disposition}\r\n").as_bytes());
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends a raw request with the bot token; returns the status and the JSON answer.
async fn send(
    sim: &DiscordSim,
    method: reqwest::Method,
    path: &str,
    (content_type, body): (String, Vec<u8>),
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, format!("{}/api/v10{path}", sim.api_base_url()))
        .header("authorization", format!("Bot {}", sim.bot_token()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn file(name: &str, bytes: &[u8], id: u64) -> Attachment {
    Attachment::from_bytes(name.to_owned(), bytes.to_vec(), id)
}

#[tokio::test]
async fn a_message_with_a_file_is_stored_and_downloadable() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let general = guild.channel("general");
    let client = http(&sim);
    let mut described = file("notes.txt", b"plain notes", 7);
    described.description("Release notes".into());
    let files = [file("kb.json", KB, 0), described];
    let msg = client
        .create_message(general)
        .content("Here is the export")
        .attachments(&files)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(msg.content, "Here is the export");
    let [kb, notes] = msg.attachments.as_slice() else {
        panic!("two attachments: {:?}", msg.attachments);
    };
    assert_eq!(kb.filename, "kb.json");
    // twilight sends no part content type; Discord derives it from the extension.
    assert_eq!(
        kb.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_served(&sim, kb, KB).await;
    assert_eq!(
        (notes.filename.as_str(), notes.description.as_deref()),
        ("notes.txt", Some("Release notes"))
    );
    assert_served(&sim, notes, b"plain notes").await;
    assert_ne!(kb.id, notes.id);
    // The stored message (what GET and the gateway show) has them too.
    let fetched = client
        .message(general, msg.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.attachments, msg.attachments);
    // The request is recorded with its payload_json as the body, and the downloads as CDN requests.
    let req = &sim.requests_to(Method::POST, "/channels/{id}/messages")[0];
    assert!(
        req.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
    assert_eq!(req.body.as_ref().unwrap()["content"], "Here is the export");
    assert_eq!(
        sim.requests_to(Method::GET, "/attachments/{c}/{a}/{f}")
            .len(),
        2
    );

    // A part's own content type is kept; a file can be the whole message.
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        &format!("/channels/{general}/messages"),
        multipart(&[
            ("payload_json", None, Some("application/json"), b"{}"),
            (
                "files[0]",
                Some("data.bin"),
                Some("text/csv"),
                b"a,b\n1,2\n",
            ),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let a: MessageAttachment = serde_json::from_value(body["attachments"][0].clone()).unwrap();
    assert_eq!(a.content_type.as_deref(), Some("text/csv"));
    assert_served(&sim, &a, b"a,b\n1,2\n").await;

    // Unknown files are 404s, as on Discord's CDN, and not violations.
    let missing = kb.url.replace("kb.json", "other.json");
    assert_eq!(download(&missing).await.0, 404);
    sim.assert_no_violations();
}

#[tokio::test]
async fn a_forum_post_starts_with_a_file() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").forum("support", &["bug"]).create();
    let client = http(&sim);
    let files = [file("trace.log", b"panic at line 3", 0)];
    let post = client
        .create_forum_thread(guild.channel("support"), "Crash report")
        .message()
        .attachments(&files)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let a = &post.message.attachments[0];
    assert_eq!(a.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert!(
        a.url
            .contains(&format!("/attachments/{}/", post.channel.id))
    );
    assert_served(&sim, a, b"panic at line 3").await;
    sim.assert_no_violations();
}

#[tokio::test]
async fn follow_ups_and_original_edits_carry_files() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "export")],
            Via::Gateway,
        )
        .await;
    let ic = client.interaction(sim.application_id());
    let defer = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: None,
    };
    ic.create_response(handle.id(), handle.token(), &defer)
        .await
        .unwrap();

    // Right after a deferral the first follow-up becomes the "thinking…" message, file included.
    let kb = [file("kb.json", KB, 0)];
    let first = ic
        .create_followup(handle.token())
        .content("Your export")
        .attachments(&kb)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let original = handle.wait_original(|m| !m.attachments.is_empty()).await;
    assert_eq!(first.id, original.id);
    assert_served(&sim, &original.attachments[0], KB).await;

    // A later follow-up is a new message with its own file.
    let log = [file("import.log", b"3 entries imported", 0)];
    let second = ic
        .create_followup(handle.token())
        .attachments(&log)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(
        handle.wait_followup(|m| !m.attachments.is_empty()).await.id,
        second.id
    );
    assert_eq!(second.content, "", "a file alone is a message");
    assert_served(&sim, &second.attachments[0], b"3 entries imported").await;

    // PATCH @original with a new file: twilight lists only the new upload, so the old file goes.
    let v2 = [file("kb-v2.json", b"{}", 0)];
    let edited = ic
        .update_response(handle.token())
        .attachments(&v2)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let names: Vec<_> = edited.attachments.iter().map(|a| &a.filename).collect();
    assert_eq!(names, ["kb-v2.json"]);
    assert_served(&sim, &edited.attachments[0], b"{}").await;
    sim.assert_no_violations();
}

#[tokio::test]
async fn interaction_callbacks_upload_files() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let alice = sim.user(guild.user("alice"));
    let handle = alice
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "export")],
            Via::Gateway,
        )
        .await;
    let ic = client.interaction(sim.application_id());
    // Type 4 with a file: twilight sends the response as payload_json plus files[0].
    let reply = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("Export attached".into()),
            attachments: Some(vec![file("kb.json", KB, 0)]),
            components: Some(vec![
                serde_json::from_value::<Component>(json!({"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "Refresh", "custom_id": "export:refresh"}
                ]}))
                .unwrap(),
            ]),
            ..Default::default()
        }),
    };
    ic.create_response(handle.id(), handle.token(), &reply)
        .await
        .unwrap();
    let original = handle.wait_original(|_| true).await;
    assert_eq!(original.content, "Export attached");
    assert_served(&sim, &original.attachments[0], KB).await;

    // Type 7 on a button of that message replaces its file with the one it uploads.
    let click = alice
        .click_button(original.id, "export:refresh", Via::Gateway)
        .await;
    let update = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            attachments: Some(vec![file("kb-fresh.json", b"[]", 0)]),
            ..Default::default()
        }),
    };
    ic.create_response(click.id(), click.token(), &update)
        .await
        .unwrap();
    let updated = click
        .wait_original(|m| m.attachments.iter().any(|a| a.filename == "kb-fresh.json"))
        .await;
    assert_eq!(updated.id, original.id);
    assert_eq!(updated.attachments.len(), 1);
    assert_eq!(updated.content, "Export attached", "content is kept");
    assert_served(&sim, &updated.attachments[0], b"[]").await;
    sim.assert_no_violations();
}

#[tokio::test]
async fn edits_keep_listed_attachments_and_remove_the_rest() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let general = guild.channel("general");
    let client = http(&sim);
    let files = [file("a.txt", b"A", 0), file("b.txt", b"B", 1)];
    let msg = client
        .create_message(general)
        .content("two files")
        .attachments(&files)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let (a, b) = (msg.attachments[0].clone(), msg.attachments[1].clone());

    // An edit that does not mention attachments keeps them.
    let edited = client
        .update_message(general, msg.id)
        .content(Some("still two"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.attachments, [a.clone(), b.clone()]);

    // Keeping `a` and adding `c` (multipart: payload_json lists a's id and the upload's).
    let c = [file("c.txt", b"C", 0)];
    let edited = client
        .update_message(general, msg.id)
        .keep_attachment_ids(&[a.id])
        .attachments(&c)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let names: Vec<_> = edited
        .attachments
        .iter()
        .map(|x| x.filename.as_str())
        .collect();
    assert_eq!(names, ["c.txt", "a.txt"]);
    assert_eq!(edited.attachments[1], a, "a kept attachment is unchanged");
    assert_served(&sim, &edited.attachments[0], b"C").await;

    // Keeping only `a` (twilight sends a multipart body without files).
    let edited = client
        .update_message(general, msg.id)
        .keep_attachment_ids(&[a.id])
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.attachments, std::slice::from_ref(&a));

    // `attachments: []` removes them all.
    let edited = client
        .update_message(general, msg.id)
        .keep_attachment_ids(&[])
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert!(edited.attachments.is_empty());
    let req = sim
        .requests_to(Method::PATCH, "/channels/{c}/messages/{m}")
        .pop()
        .unwrap();
    assert_eq!(req.body.unwrap()["attachments"], json!([]));

    // A removed attachment cannot be brought back by id.
    let path = format!("/channels/{general}/messages/{}", msg.id);
    let (status, body) = send(
        &sim,
        reqwest::Method::PATCH,
        &path,
        (
            "application/json".into(),
            json!({"attachments": [{"id": b.id}]})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["attachments"]["0"]["_errors"][0]["code"], "ATTACHMENT_NOT_FOUND",
        "{body}"
    );
    assert_eq!(sim.take_violations().len(), 1);
}

#[tokio::test]
async fn malformed_uploads_are_rejected_like_discord() {
    let sim = DiscordSim::builder()
        .attachment_size_limit(64)
        .start()
        .await;
    let guild = sim.guild("G").text_channel("general").create();
    let path = format!("/channels/{}/messages", guild.channel("general"));
    let post = |parts: &[Part<'_>]| {
        let form = multipart(parts);
        let sim = &sim;
        let path = path.clone();
        async move { send(sim, reqwest::Method::POST, &path, form).await }
    };
    let payload = |v: Value| v.to_string().into_bytes();
    let expect_400 = |(status, body): (u16, Value), key: &str| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], 50035, "{body}");
        assert!(body["errors"][key]["_errors"].is_array(), "{key}: {body}");
        let v = sim.take_violations();
        assert_eq!(v.len(), 1, "{v:?}");
    };

    // No payload_json.
    expect_400(
        post(&[("files[0]", Some("a.txt"), None, b"A")]).await,
        "payload_json",
    );
    // An upload that the given attachments list does not mention.
    let listed = payload(json!({"content": "x", "attachments": [{"id": 0}]}));
    expect_400(
        post(&[
            ("payload_json", None, None, &listed),
            ("files[0]", Some("a.txt"), None, b"A"),
            ("files[1]", Some("b.txt"), None, b"B"),
        ])
        .await,
        "files[1]",
    );
    // An attachment id with no upload behind it.
    let unknown = payload(json!({"attachments": [{"id": 0}, {"id": 5, "filename": "x.txt"}]}));
    let (status, body) = post(&[
        ("payload_json", None, None, &unknown),
        ("files[0]", Some("a.txt"), None, b"A"),
    ])
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["attachments"]["1"]["_errors"][0],
        json!({"code": "ATTACHMENT_NOT_FOUND", "message": "Attachment data not found"})
    );
    assert_eq!(sim.take_violations().len(), 1);
    // Parts Discord does not know, and file parts without a filename.
    let empty = payload(json!({"content": "x"}));
    expect_400(
        post(&[
            ("payload_json", None, None, &empty),
            ("file", Some("a.txt"), None, b"A"),
        ])
        .await,
        "file",
    );
    expect_400(
        post(&[
            ("payload_json", None, None, &empty),
            ("files[0]", None, None, b"A"),
        ])
        .await,
        "files[0]",
    );
    // A body that is not multipart at all despite its Content-Type.
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        &path,
        (
            "multipart/form-data; boundary=nope".into(),
            b"--nope\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{}".to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!(50035)),
        "{body}"
    );
    assert_eq!(sim.take_violations().len(), 1);
    // A file over the upload limit is Discord's 413.
    let (status, body) = post(&[
        ("payload_json", None, None, &empty),
        ("files[0]", Some("big.bin"), None, &[0_u8; 65]),
    ])
    .await;
    assert_eq!(
        (status, body),
        (
            413,
            json!({"code": 40005, "message": "Request entity too large"})
        )
    );
    assert_eq!(sim.take_violations().len(), 1);
    // A route that takes no files refuses multipart bodies.
    let commands = format!("/applications/{}/commands", sim.application_id());
    let (status, _) = send(
        &sim,
        reqwest::Method::PUT,
        &commands,
        multipart(&[("payload_json", None, None, b"[]")]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(sim.take_violations().len(), 1);

    assert!(
        sim.messages_in(guild.channel("general")).is_empty(),
        "rejected requests create nothing"
    );
    // Exactly at the limit is fine.
    let (status, body) = post(&[
        ("payload_json", None, None, &empty),
        ("files[0]", Some("ok.bin"), None, &[0_u8; 64]),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    sim.assert_no_violations();
}

#[tokio::test]
async fn a_callback_referring_to_files_it_did_not_upload_is_refused() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    register_chat(&sim, &http(&sim)).await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "x")],
            Via::Gateway,
        )
        .await;
    // What a bot sends if it puts an attachment in a JSON response: the file bytes are lost.
    let path = format!("/interactions/{}/{}/callback", handle.id(), handle.token());
    let body = json!({"type": 4, "data": {"content": "x", "attachments": [{"id": 0, "filename": "kb.json"}]}});
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v10{path}", sim.api_base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(
        body["errors"]["data"]["attachments"]["0"]["_errors"][0]["code"], "ATTACHMENT_NOT_FOUND",
        "{body}"
    );
    assert!(
        handle.record().ack.is_none(),
        "a refused callback acknowledges nothing"
    );
    assert_eq!(sim.take_violations().len(), 1);
}

fn kb_import_command() -> Command {
    serde_json::from_value(json!({
        "name": "kb_import",
        "description": "Import a knowledge base",
        "type": 1,
        "version": "1",
        "options": [
            {"name": "kb", "description": "Knowledge base", "type": 3, "required": true},
            {"name": "file", "description": "A file from /kb_export", "type": 11, "required": true},
        ],
    }))
    .unwrap()
}

#[tokio::test]
async fn attachment_options_resolve_to_downloadable_files() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    client
        .interaction(sim.application_id())
        .set_global_commands(&[kb_import_command()])
        .await
        .unwrap();
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "kb_import",
            [
                ("kb", OptionValue::from("faq")),
                ("file", OptionValue::file("kb.json", KB)),
            ],
            Via::Gateway,
        )
        .await;
    let payload = sim.interaction(handle.id()).unwrap().payload;
    let Some(InteractionData::ApplicationCommand(data)) = payload.data else {
        panic!("command data");
    };
    let CommandOptionValue::Attachment(id) = data.options[1].value else {
        panic!("attachment option: {:?}", data.options);
    };
    let resolved = &data.resolved.as_ref().unwrap().attachments[&id];
    assert_eq!(resolved.id, id);
    assert_eq!(resolved.filename, "kb.json");
    assert_eq!(
        resolved.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert!(
        resolved.ephemeral,
        "option uploads are ephemeral attachments"
    );
    assert!(
        resolved.url.contains("/ephemeral-attachments/"),
        "{}",
        resolved.url
    );
    assert_served(&sim, resolved, KB).await;
    sim.assert_no_violations();
}

#[tokio::test]
async fn attachment_options_follow_the_command_definition_and_the_size_limit() {
    let sim = DiscordSim::builder().attachment_size_limit(8).start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    client
        .interaction(sim.application_id())
        .set_global_commands(&[kb_import_command()])
        .await
        .unwrap();
    let general = guild.channel("general");
    let run = |options: Vec<(&'static str, OptionValue)>| {
        let alice = sim.user(guild.user("alice"));
        tokio::spawn(async move {
            alice
                .run_slash_command(general, "kb_import", options, Via::Gateway)
                .await;
        })
    };
    let panic_text = |e: tokio::task::JoinError| {
        e.into_panic()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    // A string where the command wants a file, and a file over the limit, are refused by the client.
    let text = panic_text(
        run(vec![
            ("kb", OptionValue::from("faq")),
            ("file", OptionValue::from("kb.json")),
        ])
        .await
        .unwrap_err(),
    );
    assert!(text.contains("Attachment"), "{text}");
    let text = panic_text(
        run(vec![
            ("kb", OptionValue::from("faq")),
            ("file", OptionValue::file("big.json", vec![b' '; 9])),
        ])
        .await
        .unwrap_err(),
    );
    assert!(text.contains("upload limit"), "{text}");
    // Within the limit, with an explicit content type.
    run(vec![
        ("kb", OptionValue::from("faq")),
        (
            "file",
            OptionValue::file_with_type("kb.txt", "application/json", b"{}".to_vec()),
        ),
    ])
    .await
    .unwrap();
    let payload = sim
        .world(|w| w.interactions.values().last().cloned())
        .unwrap()
        .payload;
    let limit = payload.attachment_size_limit;
    let Some(InteractionData::ApplicationCommand(data)) = payload.data else {
        panic!("command data");
    };
    let a = data
        .resolved
        .unwrap()
        .attachments
        .into_values()
        .next()
        .unwrap();
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(limit, 8, "interactions report the configured limit");
    sim.assert_no_violations();
}
