//! Responses API + Conversations through async-openai: every body and event must
//! deserialize into its types.

use async_openai::error::OpenAIError;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::responses::{
    ConversationItem, CreateConversationRequest, CreateResponse, MessageContent, MessageRole,
    ResponseStreamEvent, Status,
};
use disconcierge_llm_sim::{Endpoint, LlmSim, Message, Reply, Script};
use futures_util::StreamExt;
use serde_json::json;

use crate::{bearer, http, openai};

fn request(v: serde_json::Value) -> CreateResponse {
    serde_json::from_value(v).expect("valid CreateResponse")
}

/// Text and role of a conversation item, for compact assertions.
fn item_text(item: &ConversationItem) -> (MessageRole, String) {
    let ConversationItem::Message(m) = item else {
        panic!("not a message: {item:?}")
    };
    let text = m
        .content
        .iter()
        .map(|c| match c {
            MessageContent::InputText(t) => t.text.clone(),
            MessageContent::OutputText(t) => t.text.clone(),
            other => panic!("unexpected content {other:?}"),
        })
        .collect::<String>();
    (m.role.clone(), text)
}

#[tokio::test]
async fn conversation_non_streaming_then_streaming_accumulates_items() {
    let sim = LlmSim::start().await;
    sim.script(
        Script::new()
            .reply(Reply::text("First answer."))
            .reply(Reply::text("Second answer, streamed.")),
    );
    let client = openai(&sim);

    let conv = client
        .conversations()
        .create(
            serde_json::from_value::<CreateConversationRequest>(
                json!({"metadata": {"guild": "42"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(conv.id.starts_with("conv_"));
    assert_eq!(conv.object, "conversation");

    // Non-streaming turn in the conversation.
    let r1 = client
        .responses()
        .create(request(json!({
            "model": "gpt-4o-mini",
            "instructions": "You are a concierge.",
            "input": "Hello",
            "conversation": conv.id,
        })))
        .await
        .unwrap();
    assert_eq!(r1.output_text().as_deref(), Some("First answer."));
    assert_eq!(r1.status, Status::Completed);
    assert_eq!(
        r1.conversation.as_ref().map(|c| c.id.as_str()),
        Some(conv.id.as_str())
    );
    let usage = r1.usage.clone().expect("usage");
    assert_eq!(usage.output_tokens, 2, "two chunks: 'First', ' answer.'");
    // ceil(len("You are a concierge.") / 4) + ceil(len("Hello") / 4) = 5 + 2
    assert_eq!(usage.input_tokens, 7);
    assert_eq!(usage.total_tokens, usage.input_tokens + usage.output_tokens);

    // Streaming turn, the conversation given as an object this time.
    let mut stream = client
        .responses()
        .create_stream(request(json!({
            "model": "gpt-4o-mini",
            "instructions": "You are a concierge.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "And again"}]}],
            "conversation": {"id": conv.id},
        })))
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(ev) = stream.next().await {
        events.push(ev.expect("every event deserializes"));
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ResponseStreamEvent::ResponseCreated(_) => "created",
            ResponseStreamEvent::ResponseInProgress(_) => "in_progress",
            ResponseStreamEvent::ResponseOutputItemAdded(_) => "item.added",
            ResponseStreamEvent::ResponseContentPartAdded(_) => "part.added",
            ResponseStreamEvent::ResponseOutputTextDelta(_) => "delta",
            ResponseStreamEvent::ResponseOutputTextDone(_) => "text.done",
            ResponseStreamEvent::ResponseContentPartDone(_) => "part.done",
            ResponseStreamEvent::ResponseOutputItemDone(_) => "item.done",
            ResponseStreamEvent::ResponseCompleted(_) => "completed",
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "in_progress",
            "item.added",
            "part.added",
            "delta",
            "delta",
            "delta",
            "text.done",
            "part.done",
            "item.done",
            "completed"
        ]
    );
    let deltas: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseStreamEvent::ResponseOutputTextDelta(d) => Some(d.delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, "Second answer, streamed.");
    let seqs: Vec<u64> = events.iter().map(sequence_number).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let ResponseStreamEvent::ResponseCompleted(done) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(
        done.response.output_text().as_deref(),
        Some("Second answer, streamed.")
    );
    assert_eq!(done.response.status, Status::Completed);
    assert_eq!(done.response.usage.as_ref().unwrap().output_tokens, 3);

    // The conversation now holds both turns, input then output.
    let asc = client
        .conversations()
        .items(&conv.id)
        .query(&[("order", "asc")])
        .unwrap()
        .list()
        .await
        .unwrap();
    let texts: Vec<(MessageRole, String)> = asc.data.iter().map(item_text).collect();
    assert_eq!(
        texts,
        vec![
            (MessageRole::User, "Hello".to_owned()),
            (MessageRole::Assistant, "First answer.".to_owned()),
            (MessageRole::User, "And again".to_owned()),
            (
                MessageRole::Assistant,
                "Second answer, streamed.".to_owned()
            ),
        ]
    );
    assert!(!asc.has_more);
    assert_eq!(asc.first_id, item_id(&asc.data[0]));
    assert_eq!(asc.last_id, item_id(&asc.data[3]));

    // Default order is descending, like OpenAI; limit/after paginate.
    let desc = client.conversations().items(&conv.id).list().await.unwrap();
    assert_eq!(item_text(&desc.data[0]).1, "Second answer, streamed.");
    let page = client
        .conversations()
        .items(&conv.id)
        .query(&[("limit", "2")])
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(page.data.len(), 2);
    assert!(page.has_more);
    let after = page.last_id.clone().unwrap();
    let rest = client
        .conversations()
        .items(&conv.id)
        .query(&[("limit", "10"), ("after", after.as_str())])
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(
        rest.data.iter().map(|i| item_text(i).1).collect::<Vec<_>>(),
        ["First answer.", "Hello"]
    );

    // The second call sent only its new input; the model saw the whole history.
    let calls = sim.requests_to(Endpoint::Responses);
    assert_eq!(calls[1].input(), [Message::new("user", "And again")]);
    assert_eq!(
        calls[1].messages(),
        [
            Message::new("user", "Hello"),
            Message::new("assistant", "First answer."),
            Message::new("user", "And again")
        ]
    );
    assert_eq!(calls[1].instructions(), Some("You are a concierge."));
    assert_eq!(sim.conversation_messages(&conv.id).unwrap().len(), 4);
}

fn sequence_number(e: &ResponseStreamEvent) -> u64 {
    serde_json::to_value(e).unwrap()["sequence_number"]
        .as_u64()
        .expect("sequence_number")
}

fn item_id(item: &ConversationItem) -> Option<String> {
    serde_json::to_value(item).unwrap()["id"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn conversation_crud_and_items_create() {
    let sim = LlmSim::start().await;
    let client = openai(&sim);
    let conv = client
        .conversations()
        .create(
            serde_json::from_value::<CreateConversationRequest>(json!({
                "items": [{"type": "message", "role": "user", "content": "Seeded question"}],
                "metadata": {"channel": "help"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&conv.metadata).unwrap()["channel"],
        "help"
    );

    let added = client
        .conversations()
        .items(&conv.id)
        .create(
            serde_json::from_value(json!({"items": [
                {"type": "message", "role": "assistant", "content": "Seeded answer"},
                {"role": "user", "content": "Follow-up"}
            ]}))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(added.data.len(), 2);
    assert_eq!(
        item_text(&added.data[0]),
        (MessageRole::Assistant, "Seeded answer".to_owned())
    );

    let fetched = client.conversations().retrieve(&conv.id).await.unwrap();
    assert_eq!(fetched.id, conv.id);
    let one = client
        .conversations()
        .items(&conv.id)
        .retrieve(&item_id(&added.data[1]).unwrap())
        .await
        .unwrap();
    assert_eq!(item_text(&one), (MessageRole::User, "Follow-up".to_owned()));

    // A response in the conversation sees the seeded items as history.
    let r = client
        .responses()
        .create(request(
            json!({"model": "gpt-4.1", "input": "Now?", "conversation": conv.id}),
        ))
        .await
        .unwrap();
    assert_eq!(r.output_text().as_deref(), Some("echo: Now?"));
    assert_eq!(
        sim.last_llm_request().unwrap().messages,
        vec![
            Message::new("user", "Seeded question"),
            Message::new("assistant", "Seeded answer"),
            Message::new("user", "Follow-up"),
            Message::new("user", "Now?"),
        ]
    );

    let deleted = client.conversations().delete(&conv.id).await.unwrap();
    assert!(deleted.deleted);
    let err = client.conversations().retrieve(&conv.id).await.unwrap_err();
    assert_api_error(&err, 404, &conv.id);
    assert_eq!(sim.conversation_count(), 0);
}

/// Asserts an async-openai error is an API error with this status, mentioning `needle`.
pub fn assert_api_error(err: &OpenAIError, status: u16, needle: &str) {
    match err {
        OpenAIError::ApiError(e) => {
            assert_eq!(e.status_code.as_u16(), status, "{e}");
            assert!(e.api_error.message.contains(needle), "{e}");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_conversation_or_previous_response_is_404() {
    let sim = LlmSim::start().await;
    let client = openai(&sim);
    let err = client
        .responses()
        .create(request(
            json!({"model": "m", "input": "hi", "conversation": "conv_nope"}),
        ))
        .await
        .unwrap_err();
    assert_api_error(&err, 404, "conv_nope");
    let err = client
        .responses()
        .create(request(
            json!({"model": "m", "input": "hi", "previous_response_id": "resp_nope"}),
        ))
        .await
        .unwrap_err();
    assert_api_error(&err, 404, "resp_nope");
    // The failed calls are recorded with what they carried.
    assert_eq!(
        sim.requests_to(Endpoint::Responses)[0]
            .llm
            .as_ref()
            .unwrap()
            .conversation
            .as_deref(),
        Some("conv_nope")
    );
    // The error body is OpenAI's shape exactly.
    let raw = http()
        .get(format!("{}/conversations/conv_nope", sim.openai_base_url()))
        .header("authorization", bearer(&sim))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"].get("param").is_some() && body["error"].get("code").is_some());
}

#[tokio::test]
async fn previous_response_id_chains_context_and_store_false_is_not_kept() {
    let sim = LlmSim::start().await;
    let client = openai(&sim);
    let r1 = client
        .responses()
        .create(request(
            json!({"model": "m", "instructions": "Old rules", "input": "one"}),
        ))
        .await
        .unwrap();
    let r2 = client
        .responses()
        .create(request(json!({"model": "m", "input": "two", "previous_response_id": r1.id, "instructions": "New rules"})))
        .await
        .unwrap();
    assert_eq!(r2.output_text().as_deref(), Some("echo: two"));
    assert_eq!(r2.previous_response_id.as_deref(), Some(r1.id.as_str()));
    let seen = sim.last_llm_request().unwrap();
    assert_eq!(
        seen.messages,
        vec![
            Message::new("user", "one"),
            Message::new("assistant", "echo: one"),
            Message::new("user", "two")
        ]
    );
    // Like OpenAI, instructions are not carried over from the previous response.
    assert_eq!(seen.instructions.as_deref(), Some("New rules"));

    let fetched = client.responses().retrieve(&r2.id).await.unwrap();
    assert_eq!(fetched.id, r2.id);
    assert_eq!(fetched.output_text().as_deref(), Some("echo: two"));

    let unstored = client
        .responses()
        .create(request(
            json!({"model": "m", "input": "secret", "store": false}),
        ))
        .await
        .unwrap();
    assert_eq!(unstored.output_text().as_deref(), Some("echo: secret"));
    let err = client.responses().retrieve(&unstored.id).await.unwrap_err();
    assert_api_error(&err, 404, &unstored.id);
}

#[tokio::test]
async fn max_output_tokens_truncates_and_marks_incomplete() {
    let sim = LlmSim::start().await;
    sim.script(Script::new().default_reply(Reply::text("one two three four five")));
    let client = openai(&sim);
    let r = client
        .responses()
        .create(request(
            json!({"model": "m", "input": "count", "max_output_tokens": 3, "temperature": 0.2}),
        ))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Incomplete);
    assert_eq!(
        r.incomplete_details.as_ref().map(|d| d.reason.as_str()),
        Some("max_output_tokens")
    );
    assert_eq!(r.output_text().as_deref(), Some("one two three"));
    assert_eq!(r.usage.as_ref().unwrap().output_tokens, 3);
    assert_eq!(r.max_output_tokens, Some(3));
    assert_eq!(r.temperature, Some(0.2));
    assert_eq!(sim.last_llm_request().unwrap().temperature, Some(0.2));

    let mut stream = client
        .responses()
        .create_stream(request(
            json!({"model": "m", "input": "count", "max_output_tokens": 2}),
        ))
        .await
        .unwrap();
    let mut last = None;
    let mut deltas = 0;
    while let Some(ev) = stream.next().await {
        let ev = ev.unwrap();
        if matches!(ev, ResponseStreamEvent::ResponseOutputTextDelta(_)) {
            deltas += 1;
        }
        last = Some(ev);
    }
    assert_eq!(deltas, 2);
    let Some(ResponseStreamEvent::ResponseIncomplete(inc)) = last else {
        panic!("last event: {last:?}")
    };
    assert_eq!(inc.response.status, Status::Incomplete);
    assert_eq!(inc.response.output_text().as_deref(), Some("one two"));
}

#[tokio::test]
async fn assistants_api_answers_404_and_is_recorded_as_such() {
    let sim = LlmSim::start().await;
    for (method, path) in [
        (reqwest::Method::POST, "/assistants"),
        (reqwest::Method::POST, "/threads"),
        (reqwest::Method::POST, "/threads/thread_1/runs"),
        (reqwest::Method::GET, "/threads/thread_1/messages"),
    ] {
        let resp = http()
            .request(method, format!("{}{path}", sim.openai_base_url()))
            .header("authorization", bearer(&sim))
            .header("openai-beta", "assistants=v2")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains(path));
    }
    assert_eq!(sim.requests_to(Endpoint::Assistants).len(), 4);
    assert!(sim.requests_to(Endpoint::Responses).is_empty());
}

#[tokio::test]
async fn responses_input_items_with_developer_message_and_history() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::from_fn(|req| {
        format!(
            "{} messages; last={}",
            req.messages.len(),
            req.last_user_text().unwrap_or("-")
        )
    }));
    let client = openai(&sim);
    let r = client
        .responses()
        .create(request(json!({
            "model": "gpt-4.1",
            "input": [
                {"role": "developer", "content": "Answer briefly."},
                {"role": "user", "content": "Where is the FAQ?"},
                // An earlier output item, passed back as OpenAI returned it.
                {"type": "message", "id": "msg_prev", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "In #faq.", "annotations": []}]},
                {"role": "user", "content": [{"type": "input_text", "text": "Thanks!"}]}
            ]
        })))
        .await
        .unwrap();
    assert_eq!(r.output_text().as_deref(), Some("3 messages; last=Thanks!"));
    let seen = sim.last_request().unwrap();
    assert_eq!(seen.instructions(), Some("Answer briefly."));
    assert_eq!(seen.messages()[1], ("assistant", "In #faq."));
}

/// The wire format itself, for code that parses SSE by hand: named events whose
/// name equals the payload's `type`, blank-line separated.
#[tokio::test]
async fn raw_sse_frames_are_named_after_their_type() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::text("Hi there"));
    let resp = http()
        .post(format!("{}/responses", sim.openai_base_url()))
        .header("authorization", bearer(&sim))
        .json(&json!({"model": "m", "input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("\n\n"));
    let frames: Vec<&str> = text.trim_end().split("\n\n").collect();
    assert_eq!(frames.len(), 10, "{text}");
    for frame in &frames {
        let (event, data) = frame.split_once('\n').unwrap();
        let name = event.strip_prefix("event: ").expect("named event");
        let payload: serde_json::Value =
            serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(payload["type"], name);
    }
    assert!(frames[0].starts_with("event: response.created\n"));
    assert!(frames[9].starts_with("event: response.completed\n"));
}
