//! The database schema, shared by SQLite and PostgreSQL: portable types only. Ids are UUID
//! text made in Rust, times are Unix milliseconds, JSON is text.

diesel::table! {
    companies (id) {
        id -> Text,
        crm_company_id -> Nullable<BigInt>,
        name -> Text,
        public_key -> Text,
        identity_secret -> Text,
        api_domain -> Nullable<Text>,
        settings -> Text,
        created_at -> BigInt,
        session_epoch -> BigInt,
        uninstalled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    crm_users (id) {
        id -> Text,
        company_id -> Text,
        crm_user_id -> BigInt,
        name -> Text,
        email -> Text,
        is_admin -> Bool,
        can_admin -> Bool,
        online -> Bool,
        last_seen_at -> Nullable<BigInt>,
        notifications -> Bool,
        synced_at -> BigInt,
        notify_new_chat -> Bool,
        notify_assigned -> Bool,
        notify_message -> Bool,
        last_assigned_at -> Nullable<BigInt>,
        icon_url -> Nullable<Text>,
    }
}

diesel::table! {
    presence_announced (rep_id) {
        rep_id -> Text,
        online -> Bool,
    }
}

diesel::table! {
    installs (id) {
        id -> Text,
        company_id -> Text,
        crm_user_id -> BigInt,
        access_token -> Binary,
        refresh_token -> Binary,
        expires_at -> BigInt,
        scope -> Text,
        api_domain -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    playbooks (id) {
        id -> Text,
        company_id -> Text,
        slug -> Text,
        name -> Text,
        enabled -> Bool,
        priority -> BigInt,
        draft -> Text,
        published_version -> Nullable<Integer>,
        owner_crm_user_id -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        draft_source -> Nullable<Text>,
    }
}

diesel::table! {
    playbook_versions (id) {
        id -> Text,
        playbook_id -> Text,
        version -> Integer,
        document -> Text,
        published_at -> BigInt,
        note -> Text,
        author -> Nullable<Text>,
    }
}

diesel::table! {
    answer_rules (id) {
        id -> Text,
        company_id -> Text,
        keywords -> Text,
        reply -> Text,
        position -> Integer,
        enabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    visitors (id) {
        id -> Text,
        company_id -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        known -> Bool,
        visits -> Integer,
        attributes -> Text,
        first_seen_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    conversations (id) {
        id -> Text,
        company_id -> Text,
        visitor_id -> Text,
        status -> Text,
        playbook_version_id -> Nullable<Text>,
        engine_state -> Text,
        assigned_to -> Nullable<Text>,
        last_seq -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        waiting_since -> Nullable<BigInt>,
        assigned_at -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        team -> Nullable<Text>,
        panel -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        conversation_id -> Text,
        company_id -> Text,
        seq -> BigInt,
        author -> Text,
        author_id -> Nullable<Text>,
        body -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    variables (conversation_id, path) {
        conversation_id -> Text,
        path -> Text,
        value -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        company_id -> Text,
        conversation_id -> Nullable<Text>,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        result -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    timers (id) {
        id -> Text,
        company_id -> Text,
        conversation_id -> Text,
        kind -> Text,
        card -> Text,
        due_at -> BigInt,
        status -> Text,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
        fired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    analytics_events (id) {
        id -> Text,
        company_id -> Text,
        playbook_id -> Nullable<Text>,
        conversation_id -> Nullable<Text>,
        visitor_known -> Bool,
        kind -> Text,
        card -> Nullable<Text>,
        value -> Nullable<BigInt>,
        created_at -> BigInt,
        version -> Nullable<Integer>,
        visitor_returning -> Bool,
    }
}

diesel::table! {
    analytics_daily (company_id, playbook_id, day, version, known, visitor_returning, kind, card, value) {
        company_id -> Text,
        playbook_id -> Text,
        version -> Integer,
        day -> BigInt,
        known -> Bool,
        visitor_returning -> Bool,
        kind -> Text,
        card -> Text,
        value -> BigInt,
        count -> BigInt,
    }
}

diesel::table! {
    conversions_confirmed (conversation_id) {
        conversation_id -> Text,
        company_id -> Text,
        confirmed_at -> BigInt,
    }
}

diesel::table! {
    crm_outcomes (id) {
        id -> Text,
        company_id -> Text,
        conversation_id -> Text,
        deal_id -> BigInt,
        lead_id -> Nullable<Text>,
        status -> Text,
        value_cents -> BigInt,
        currency -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    crm_lead_outcomes (id) {
        id -> Text,
        company_id -> Text,
        conversation_id -> Text,
        lead_id -> Text,
        status -> Text,
        deal_id -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    crm_webhooks (id) {
        id -> Text,
        company_id -> Text,
        crm_webhook_id -> BigInt,
        event -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    crm_identities (company_id, kind, lookup) {
        company_id -> Text,
        kind -> Text,
        lookup -> Text,
        crm_id -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    crm_webhook_auth (company_id) {
        company_id -> Text,
        password_sha256 -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    chat_takes (id) {
        id -> Text,
        company_id -> Text,
        conversation_id -> Text,
        crm_user_id -> Text,
        waited_ms -> BigInt,
        taken_at -> BigInt,
    }
}

diesel::table! {
    chat_offers (conversation_id) {
        conversation_id -> Text,
        company_id -> Text,
        offered_to -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        skipped -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        company_id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    team_members (team_id, crm_user_id) {
        team_id -> Text,
        company_id -> Text,
        crm_user_id -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        company_id -> Text,
        name -> Text,
        key_hash -> Text,
        prefix -> Text,
        created_by -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        company_id -> Text,
        actor -> Text,
        actor_crm_user_id -> Nullable<BigInt>,
        actor_key_id -> Nullable<Text>,
        action -> Text,
        subject_id -> Nullable<Text>,
        subject -> Text,
        detail -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    page_views (id) {
        id -> Text,
        company_id -> Text,
        visitor_id -> Text,
        url -> Text,
        title -> Text,
        viewed_at -> BigInt,
    }
}

diesel::joinable!(crm_users -> companies (company_id));
diesel::joinable!(installs -> companies (company_id));
diesel::joinable!(playbooks -> companies (company_id));
diesel::joinable!(playbook_versions -> playbooks (playbook_id));
diesel::joinable!(answer_rules -> companies (company_id));
diesel::joinable!(visitors -> companies (company_id));
diesel::joinable!(conversations -> visitors (visitor_id));
diesel::joinable!(conversations -> playbook_versions (playbook_version_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(variables -> conversations (conversation_id));
diesel::joinable!(timers -> conversations (conversation_id));
diesel::joinable!(conversations -> crm_users (assigned_to));
diesel::joinable!(api_keys -> companies (company_id));
diesel::joinable!(chat_offers -> conversations (conversation_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(audit_log -> companies (company_id));
diesel::joinable!(page_views -> visitors (visitor_id));
diesel::joinable!(presence_announced -> crm_users (rep_id));

diesel::allow_tables_to_appear_in_same_query!(
    companies,
    crm_users,
    installs,
    playbooks,
    playbook_versions,
    answer_rules,
    visitors,
    conversations,
    messages,
    variables,
    outbox,
    timers,
    analytics_events,
    analytics_daily,
    conversions_confirmed,
    crm_outcomes,
    crm_lead_outcomes,
    crm_webhooks,
    crm_webhook_auth,
    crm_identities,
    chat_takes,
    chat_offers,
    teams,
    team_members,
    api_keys,
    audit_log,
    page_views,
    presence_announced,
);
