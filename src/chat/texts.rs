//! The widget's system texts, in the languages playbooks support (en, fr, pt, de, es).

use std::collections::BTreeMap;

use crate::playbook::model::Language;

/// The language for a browser language tag (`fr-CA` → French); English when unsupported.
pub fn language_of(tag: &str) -> Language {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match primary.as_str() {
        "fr" => Language::Fr,
        "pt" => Language::Pt,
        "de" => Language::De,
        "es" => Language::Es,
        _ => Language::En,
    }
}

/// Every system text of the widget, by key. `{name}` stands for the bot's or rep's name.
pub fn widget_texts(language: Language) -> BTreeMap<&'static str, &'static str> {
    let rows: [(&str, [&str; 5]); 14] = [
        // key, then en, fr, pt, de, es
        (
            "open",
            [
                "Open chat",
                "Ouvrir le chat",
                "Abrir o chat",
                "Chat öffnen",
                "Abrir el chat",
            ],
        ),
        (
            "close",
            [
                "End chat",
                "Terminer le chat",
                "Terminar o chat",
                "Chat beenden",
                "Terminar el chat",
            ],
        ),
        (
            "minimize",
            [
                "Hide chat",
                "Masquer le chat",
                "Ocultar o chat",
                "Chat ausblenden",
                "Ocultar el chat",
            ],
        ),
        ("send", ["Send", "Envoyer", "Enviar", "Senden", "Enviar"]),
        (
            "placeholder",
            [
                "Write a message…",
                "Écrivez un message…",
                "Escreva uma mensagem…",
                "Nachricht schreiben…",
                "Escribe un mensaje…",
            ],
        ),
        (
            "message",
            ["Message", "Message", "Mensagem", "Nachricht", "Mensaje"],
        ),
        (
            "unread",
            [
                "new messages",
                "nouveaux messages",
                "novas mensagens",
                "neue Nachrichten",
                "mensajes nuevos",
            ],
        ),
        (
            "typing",
            [
                "{name} is typing…",
                "{name} écrit…",
                "{name} está a escrever…",
                "{name} schreibt…",
                "{name} está escribiendo…",
            ],
        ),
        (
            "queue",
            [
                "You are number {n} in line.",
                "Vous êtes numéro {n} dans la file.",
                "É o número {n} na fila.",
                "Sie sind Nummer {n} in der Warteschlange.",
                "Eres el número {n} en la cola.",
            ],
        ),
        (
            "wait",
            [
                "Expected wait: about {m} min.",
                "Attente prévue : environ {m} min.",
                "Espera prevista: cerca de {m} min.",
                "Erwartete Wartezeit: etwa {m} Min.",
                "Espera prevista: unos {m} min.",
            ],
        ),
        (
            "joined",
            [
                "{name} joined the chat",
                "{name} a rejoint le chat",
                "{name} entrou no chat",
                "{name} ist dem Chat beigetreten",
                "{name} se unió al chat",
            ],
        ),
        (
            "offline",
            [
                "We're offline right now — leave a message and we'll get back to you.",
                "Nous sommes absents pour le moment — laissez un message, nous vous répondrons.",
                "Estamos offline agora — deixe uma mensagem e responderemos.",
                "Wir sind gerade nicht erreichbar — hinterlassen Sie eine Nachricht, wir melden uns.",
                "Ahora no estamos conectados — deja un mensaje y te responderemos.",
            ],
        ),
        (
            "error",
            [
                "Your message could not be sent. Please try again.",
                "Votre message n'a pas pu être envoyé. Veuillez réessayer.",
                "Não foi possível enviar a sua mensagem. Tente novamente.",
                "Ihre Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
                "No se pudo enviar tu mensaje. Inténtalo de nuevo.",
            ],
        ),
        (
            "slow_down",
            [
                "Too many messages at once. Please wait a moment.",
                "Trop de messages à la fois. Patientez un instant.",
                "Demasiadas mensagens de uma vez. Aguarde um momento.",
                "Zu viele Nachrichten auf einmal. Bitte warten Sie kurz.",
                "Demasiados mensajes a la vez. Espera un momento.",
            ],
        ),
    ];
    let column = match language {
        Language::En => 0,
        Language::Fr => 1,
        Language::Pt => 2,
        Language::De => 3,
        Language::Es => 4,
    };
    rows.iter()
        .map(|(key, texts)| (*key, texts[column]))
        .collect()
}

/// The line shown when a playbook sends the page elsewhere.
pub fn redirecting(language: Language, url: &str) -> String {
    let lead = match language {
        Language::En => "Taking you to",
        Language::Fr => "Redirection vers",
        Language::Pt => "A abrir",
        Language::De => "Weiter zu",
        Language::Es => "Te llevamos a",
    };
    format!("{lead} [{url}]({url})")
}

/// "NAME joined the chat": a rep took the conversation.
pub fn rep_joined(language: Language, name: &str) -> String {
    match language {
        Language::En => format!("{name} joined the chat"),
        Language::Fr => format!("{name} a rejoint le chat"),
        Language::Pt => format!("{name} entrou no chat"),
        Language::De => format!("{name} ist dem Chat beigetreten"),
        Language::Es => format!("{name} se unió al chat"),
    }
}

/// The chat went back to the team's waiting list.
pub fn someone_else(language: Language) -> &'static str {
    match language {
        Language::En => "Someone else from the team will answer you shortly.",
        Language::Fr => "Une autre personne de l'équipe va vous répondre sous peu.",
        Language::Pt => "Outra pessoa da equipa vai responder-lhe em breve.",
        Language::De => "Jemand anderes aus dem Team antwortet Ihnen gleich.",
        Language::Es => "Otra persona del equipo te responderá en breve.",
    }
}

/// A rep closed the chat.
pub fn chat_closed(language: Language) -> &'static str {
    match language {
        Language::En => "The chat was closed. Write again any time.",
        Language::Fr => "Le chat est terminé. Écrivez-nous quand vous voulez.",
        Language::Pt => "O chat foi encerrado. Escreva quando quiser.",
        Language::De => "Der Chat wurde beendet. Schreiben Sie uns jederzeit wieder.",
        Language::Es => "El chat se ha cerrado. Escríbenos cuando quieras.",
    }
}

/// The short acknowledgement of free text that got no other answer (the fallback reply is
/// never sent twice in a row): the visitor always learns that the message arrived.
pub fn received(language: Language) -> &'static str {
    match language {
        Language::En => "Got it: your message is with the team.",
        Language::Fr => "Bien reçu : votre message est transmis à l'équipe.",
        Language::Pt => "Recebido: a sua mensagem foi entregue à equipa.",
        Language::De => "Angekommen: Ihre Nachricht liegt beim Team.",
        Language::Es => "Recibido: tu mensaje ha llegado al equipo.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_tags_pick_a_language() {
        assert_eq!(language_of("fr-CA"), Language::Fr);
        assert_eq!(language_of("de"), Language::De);
        assert_eq!(language_of("pt_BR"), Language::Pt);
        assert_eq!(language_of("ja"), Language::En);
        assert_eq!(language_of(""), Language::En);
    }

    #[test]
    fn every_language_has_every_key() {
        for lang in [
            Language::En,
            Language::Fr,
            Language::Pt,
            Language::De,
            Language::Es,
        ] {
            let texts = widget_texts(lang);
            assert_eq!(texts.len(), 14);
            assert!(texts["queue"].contains("{n}") && texts["wait"].contains("{m}"));
            assert!(texts.values().all(|t| !t.is_empty()));
            assert!(texts["typing"].contains("{name}"));
        }
        assert_eq!(widget_texts(Language::De)["send"], "Senden");
    }
}
