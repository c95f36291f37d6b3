//! The engine's own texts, in each playbook language: what the bot says when a playbook
//! gives no text of its own.

use super::super::input::InputError;
use super::super::model::Language;

/// Said when the visitor leaves the flow with an exit word or the widget's close.
pub(super) fn goodbye(language: Language) -> &'static str {
    match language {
        Language::En => "Okay, I'll stop here. Write to us any time if you need anything.",
        Language::Fr => "D'accord, je m'arrête là. Écrivez-nous quand vous voulez.",
        Language::Pt => "Tudo bem, paro por aqui. Escreva-nos quando quiser.",
        Language::De => "Alles klar, ich höre hier auf. Schreiben Sie uns jederzeit.",
        Language::Es => "De acuerdo, lo dejo aquí. Escríbenos cuando quieras.",
    }
}

/// Said when text typed at a buttons card matches no button and there is no "other".
pub(super) fn pick_an_option(language: Language) -> &'static str {
    match language {
        Language::En => "Please choose one of the options.",
        Language::Fr => "Merci de choisir l'une des options.",
        Language::Pt => "Por favor, escolha uma das opções.",
        Language::De => "Bitte wählen Sie eine der Optionen.",
        Language::Es => "Por favor, elige una de las opciones.",
    }
}

/// Said after an invalid answer when the question has no `retry_text`.
pub(super) fn retry(language: Language, error: InputError) -> &'static str {
    use InputError as E;
    use Language as L;
    match (language, error) {
        (L::En, E::Empty) => "Please type your answer.",
        (L::En, E::TooLong) => "That's a bit long — could you make it shorter?",
        (L::En, E::NotEmail) => "That doesn't look like an e-mail address — could you check it?",
        (L::En, E::NotPhone) => {
            "Please give your number with its country code, e.g. +1 415 555 0100."
        }
        (L::En, E::NotNumber) => "Please answer with a number.",
        (L::En, E::NotDate) => "Please give a date like 2027-03-31 or 31/03/2027.",
        (L::En, E::NotUrl) => "Please give a web address, e.g. example.com.",
        (L::Fr, E::Empty) => "Merci de saisir votre réponse.",
        (L::Fr, E::TooLong) => "C'est un peu long — pourriez-vous raccourcir ?",
        (L::Fr, E::NotEmail) => {
            "Cette adresse e-mail ne semble pas valide — pourriez-vous la vérifier ?"
        }
        (L::Fr, E::NotPhone) => {
            "Merci d'indiquer votre numéro avec l'indicatif du pays, p. ex. +33 6 12 34 56 78."
        }
        (L::Fr, E::NotNumber) => "Merci de répondre par un nombre.",
        (L::Fr, E::NotDate) => "Merci d'indiquer une date comme 31/03/2027.",
        (L::Fr, E::NotUrl) => "Merci d'indiquer une adresse web, p. ex. exemple.fr.",
        (L::Pt, E::Empty) => "Por favor, escreva a sua resposta.",
        (L::Pt, E::TooLong) => "É um pouco longo — pode encurtar?",
        (L::Pt, E::NotEmail) => "Isso não parece um endereço de e-mail — pode verificar?",
        (L::Pt, E::NotPhone) => {
            "Indique o seu número com o código do país, p. ex. +351 912 345 678."
        }
        (L::Pt, E::NotNumber) => "Por favor, responda com um número.",
        (L::Pt, E::NotDate) => "Indique uma data como 31/03/2027.",
        (L::Pt, E::NotUrl) => "Indique um endereço web, p. ex. exemplo.pt.",
        (L::De, E::Empty) => "Bitte geben Sie Ihre Antwort ein.",
        (L::De, E::TooLong) => "Das ist etwas lang — können Sie es kürzen?",
        (L::De, E::NotEmail) => {
            "Das sieht nicht wie eine E-Mail-Adresse aus — können Sie sie prüfen?"
        }
        (L::De, E::NotPhone) => {
            "Bitte geben Sie Ihre Nummer mit Ländervorwahl an, z. B. +49 30 1234567."
        }
        (L::De, E::NotNumber) => "Bitte antworten Sie mit einer Zahl.",
        (L::De, E::NotDate) => "Bitte geben Sie ein Datum wie 31.03.2027 an.",
        (L::De, E::NotUrl) => "Bitte geben Sie eine Webadresse an, z. B. beispiel.de.",
        (L::Es, E::Empty) => "Por favor, escribe tu respuesta.",
        (L::Es, E::TooLong) => "Es un poco largo — ¿puedes acortarlo?",
        (L::Es, E::NotEmail) => "Eso no parece una dirección de e-mail — ¿puedes revisarla?",
        (L::Es, E::NotPhone) => "Indica tu número con el prefijo del país, p. ej. +34 612 345 678.",
        (L::Es, E::NotNumber) => "Por favor, responde con un número.",
        (L::Es, E::NotDate) => "Indica una fecha como 31/03/2027.",
        (L::Es, E::NotUrl) => "Indica una dirección web, p. ej. ejemplo.es.",
    }
}
