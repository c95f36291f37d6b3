//! The sandbox users' pictures (`icon_url` of `GET /users`): an SVG with the user's
//! initials on a colour of their own, as a real account's profile photo stands in.

use actix_web::{HttpResponse, web};

use super::{HttpError, Sandbox, lock};

/// Background colours, picked by user id.
const COLOURS: [&str; 5] = ["#2f6fed", "#16a34a", "#c2410c", "#7c3aed", "#0e7490"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}/icon.svg", web::get().to(icon));
}

async fn icon(sb: web::Data<Sandbox>, id: web::Path<i64>) -> Result<HttpResponse, HttpError> {
    let user = lock(&sb.store)
        .user(*id)
        .filter(|u| u.icon)
        .cloned()
        .ok_or_else(HttpError::not_found)?;
    let colour = COLOURS[user.id.unsigned_abs() as usize % COLOURS.len()];
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(svg(&initials(&user.name), colour)))
}

/// Up to two initials, upper case, letters and digits only (so nothing in them needs
/// escaping): "Chloé Rep" → "CR".
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_alphanumeric())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

fn svg(text: &str, colour: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 120 120\" width=\"120\" height=\"120\">\
         <rect width=\"120\" height=\"120\" fill=\"{colour}\"/>\
         <text x=\"60\" y=\"60\" dy=\".35em\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"system-ui, sans-serif\" font-size=\"48\" font-weight=\"700\">{text}</text></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_two_words() {
        assert_eq!(initials("Chloé Rep"), "CR");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("Ben de la Rep"), "BD");
        assert_eq!(initials("  "), "");
        assert_eq!(initials("<b> Rep"), "R");
    }
}
