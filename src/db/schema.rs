//! Diesel schema shared by both backends (see `migrations/postgres` and `migrations/sqlite`).

diesel::table! {
    departments (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        email -> Nullable<Text>,
        active -> Bool,
        created_at -> crate::db::types::Tstz,
        sla_ack_minutes -> Integer,
        sla_answer_minutes -> Integer,
        sla_warn_percent -> Integer,
        sla_calendar_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    queues (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Nullable<Text>,
        department_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> crate::db::types::Tstz,
        strategy -> Text,
        required_skills -> crate::db::types::Json,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        parent_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> crate::db::types::Tstz,
        department_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    agents (id) {
        id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        department_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
        extension -> Nullable<Text>,
        presence -> Text,
        presence_since -> Nullable<crate::db::types::Tstz>,
        capacity -> crate::db::types::Json,
        last_assigned_at -> Nullable<crate::db::types::Tstz>,
        password_hash -> Nullable<Text>,
        password_changed_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        agent_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> crate::db::types::Tstz,
        revoked_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    requesters (id) {
        id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        rut -> Nullable<Text>,
        segment -> Text,
        organization -> Nullable<Text>,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        number -> Text,
        subject -> Text,
        status -> Text,
        priority -> Text,
        channel -> Text,
        category_id -> Nullable<BigInt>,
        queue_id -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        requester_id -> BigInt,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
        solved_at -> Nullable<crate::db::types::Tstz>,
        closed_at -> Nullable<crate::db::types::Tstz>,
        kind -> Text,
        next_due_at -> Nullable<crate::db::types::Tstz>,
        sla_state -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_tags (ticket_id, tag) {
        ticket_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        author_type -> Text,
        author_agent_id -> Nullable<BigInt>,
        author_requester_id -> Nullable<BigInt>,
        visibility -> Text,
        channel -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        created_at -> crate::db::types::Tstz,
        sender_email -> Nullable<Text>,
        sender_name -> Nullable<Text>,
        sender_status -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        actor_type -> Text,
        actor_id -> Nullable<BigInt>,
        data -> crate::db::types::Json,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(queues -> departments (department_id));
diesel::joinable!(agents -> departments (department_id));
diesel::joinable!(api_tokens -> agents (agent_id));
diesel::joinable!(tickets -> requesters (requester_id));
diesel::joinable!(tickets -> queues (queue_id));
diesel::joinable!(tickets -> categories (category_id));
diesel::joinable!(tickets -> agents (assignee_id));
diesel::joinable!(ticket_tags -> tickets (ticket_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));

diesel::table! {
    calendars (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        time_zone -> Text,
        week -> crate::db::types::Json,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    holidays (calendar_id, day) {
        calendar_id -> BigInt,
        day -> Date,
        name -> Text,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> BigInt,
        name -> Text,
        position -> Integer,
        active -> Bool,
        conditions -> crate::db::types::Json,
        targets -> crate::db::types::Json,
        pause_statuses -> crate::db::types::Json,
        calendar_id -> BigInt,
        warn_percent -> Nullable<Integer>,
        warn_before_minutes -> Nullable<Integer>,
        actions -> crate::db::types::Json,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    sla_deadlines (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        metric -> Text,
        instance -> Integer,
        kind -> Text,
        due_at -> crate::db::types::Tstz,
        fired_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    ticket_viewers (ticket_id, agent_id) {
        ticket_id -> BigInt,
        agent_id -> BigInt,
        state -> Text,
        since -> crate::db::types::Tstz,
        seen_at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(ticket_viewers -> tickets (ticket_id));
diesel::joinable!(ticket_viewers -> agents (agent_id));

diesel::joinable!(holidays -> calendars (calendar_id));
diesel::joinable!(sla_policies -> calendars (calendar_id));
diesel::joinable!(sla_deadlines -> tickets (ticket_id));

diesel::table! {
    email_messages (id) {
        id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        message_row_id -> Nullable<BigInt>,
        direction -> Text,
        mailbox -> Text,
        message_id -> Text,
        from_address -> Text,
        subject -> Text,
        automatic -> Nullable<Text>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    ticket_ccs (ticket_id, email) {
        ticket_id -> BigInt,
        email -> Text,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        message_row_id -> Nullable<BigInt>,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        content_id -> Nullable<Text>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    attachment_files (sha256) {
        sha256 -> Text,
        size -> BigInt,
        scan -> Text,
        scan_detail -> Nullable<Text>,
        next_scan_at -> crate::db::types::Tstz,
        last_put_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    attachment_blobs (sha256) {
        sha256 -> Text,
        bytes -> Binary,
    }
}

diesel::table! {
    email_quarantine (id) {
        id -> BigInt,
        mailbox -> Text,
        reason -> Text,
        size -> BigInt,
        raw -> Binary,
        created_at -> crate::db::types::Tstz,
        released_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        ticket_id -> Nullable<BigInt>,
        message_row_id -> Nullable<BigInt>,
        recipient -> Text,
        message_id -> Text,
        detail -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> crate::db::types::Tstz,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<crate::db::types::Tstz>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    blocked_numbers (id) {
        id -> BigInt,
        number -> Text,
        reason -> Nullable<Text>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    calls (id) {
        id -> BigInt,
        external_id -> Text,
        direction -> Text,
        from_number -> Nullable<Text>,
        to_number -> Nullable<Text>,
        queue_name -> Nullable<Text>,
        queue_id -> Nullable<BigInt>,
        requester_id -> Nullable<BigInt>,
        agent_ref -> Nullable<Text>,
        agent_id -> Nullable<BigInt>,
        ticket_id -> Nullable<BigInt>,
        callback_ticket_id -> Nullable<BigInt>,
        ticket_created -> Bool,
        callback_created -> Bool,
        state -> Text,
        outcome -> Nullable<Text>,
        cause -> Nullable<Text>,
        queued_at -> Nullable<crate::db::types::Tstz>,
        answered_at -> Nullable<crate::db::types::Tstz>,
        ended_at -> Nullable<crate::db::types::Tstz>,
        wrapup_ended_at -> Nullable<crate::db::types::Tstz>,
        wait_seconds -> Nullable<BigInt>,
        talk_seconds -> Nullable<BigInt>,
        hold_seconds -> BigInt,
        acw_seconds -> Nullable<BigInt>,
        transfers -> BigInt,
        voicemail_message_id -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    call_events (id) {
        id -> BigInt,
        call_id -> BigInt,
        kind -> Text,
        source -> Text,
        dedup_key -> Text,
        data -> crate::db::types::Json,
        occurred_at -> crate::db::types::Tstz,
        received_at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(call_events -> calls (call_id));
diesel::joinable!(calls -> queues (queue_id));
diesel::joinable!(calls -> requesters (requester_id));
diesel::joinable!(calls -> agents (agent_id));

diesel::table! {
    agent_skills (agent_id, skill) {
        agent_id -> BigInt,
        skill -> Text,
    }
}

diesel::table! {
    agent_presence_log (id) {
        id -> BigInt,
        agent_id -> BigInt,
        presence -> Text,
        at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    queue_members (queue_id, agent_id) {
        queue_id -> BigInt,
        agent_id -> BigInt,
        rotation_plan_id -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    routing_rules (id) {
        id -> BigInt,
        name -> Text,
        position -> BigInt,
        active -> Bool,
        on_update -> Bool,
        conditions -> crate::db::types::Json,
        actions -> crate::db::types::Json,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    reference_versions (name) {
        name -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    ticket_watchers (ticket_id, agent_id) {
        ticket_id -> BigInt,
        agent_id -> BigInt,
    }
}

diesel::table! {
    rotation_plans (id) {
        id -> BigInt,
        name -> Text,
        agents -> crate::db::types::Json,
        queues -> crate::db::types::Json,
        period -> Text,
        weekday -> Text,
        at_time -> Text,
        timezone -> Text,
        start_date -> Text,
        applied_index -> BigInt,
        active -> Bool,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    rotation_log (id) {
        id -> BigInt,
        plan_id -> BigInt,
        period_index -> BigInt,
        memberships -> crate::db::types::Json,
        at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(queue_members -> queues (queue_id));
diesel::joinable!(queue_members -> agents (agent_id));
diesel::joinable!(agent_skills -> agents (agent_id));
diesel::joinable!(agent_presence_log -> agents (agent_id));
diesel::joinable!(ticket_watchers -> tickets (ticket_id));
diesel::joinable!(rotation_log -> rotation_plans (plan_id));

diesel::table! {
    escalations (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        department_id -> BigInt,
        mode -> Text,
        status -> Text,
        reason -> Text,
        grant_pii -> Bool,
        requested_by -> Nullable<BigInt>,
        answer -> Nullable<Text>,
        answered_by -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
        answered_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::joinable!(escalations -> tickets (ticket_id));
diesel::joinable!(escalations -> departments (department_id));

diesel::table! {
    opportunities (id) {
        id -> BigInt,
        title -> Text,
        description -> Text,
        category_id -> Nullable<BigInt>,
        department_id -> BigInt,
        priority -> Text,
        status -> Text,
        resolution -> Nullable<Text>,
        duplicate_of -> Nullable<BigInt>,
        proposed_by -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
        source -> Text,
    }
}

diesel::table! {
    opportunity_tickets (opportunity_id, ticket_id) {
        opportunity_id -> BigInt,
        ticket_id -> BigInt,
    }
}

diesel::table! {
    opportunity_events (id) {
        id -> BigInt,
        opportunity_id -> BigInt,
        agent_id -> Nullable<BigInt>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        comment -> Nullable<Text>,
        at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(opportunities -> departments (department_id));
diesel::joinable!(opportunities -> categories (category_id));
diesel::joinable!(opportunity_tickets -> opportunities (opportunity_id));
diesel::joinable!(opportunity_tickets -> tickets (ticket_id));
diesel::joinable!(opportunity_events -> opportunities (opportunity_id));

diesel::table! {
    department_deliveries (id) {
        id -> BigInt,
        department_id -> BigInt,
        item_kind -> Text,
        item_id -> BigInt,
        event -> Text,
        idempotency_key -> Text,
        payload -> crate::db::types::Json,
        created_at -> crate::db::types::Tstz,
        acknowledged_at -> Nullable<crate::db::types::Tstz>,
        acknowledged_by -> Nullable<BigInt>,
        stream_lease_until -> Nullable<crate::db::types::Tstz>,
        stream_entry_id -> Nullable<Text>,
        streamed_at -> Nullable<crate::db::types::Tstz>,
        webhook_status -> Nullable<Text>,
        webhook_attempts -> Integer,
        webhook_next_at -> Nullable<crate::db::types::Tstz>,
        webhook_delivered_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    department_webhooks (department_id) {
        department_id -> BigInt,
        url -> Text,
        secret -> Text,
        enabled -> Bool,
        consecutive_failures -> Integer,
        retry_at -> Nullable<crate::db::types::Tstz>,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<crate::db::types::Tstz>,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    department_webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        url -> Text,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
        at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(department_deliveries -> departments (department_id));
diesel::joinable!(department_webhooks -> departments (department_id));
diesel::joinable!(department_webhook_attempts -> department_deliveries (delivery_id));

diesel::table! {
    csat_responses (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        score -> Integer,
        comment -> Nullable<Text>,
        resolved -> Nullable<Bool>,
        answered_at -> crate::db::types::Tstz,
        agent_id -> Nullable<BigInt>,
        queue_id -> Nullable<BigInt>,
        channel -> Text,
        category_id -> Nullable<BigInt>,
        segment -> Text,
    }
}

diesel::table! {
    qa_scorecards (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        criteria -> crate::db::types::Json,
        active -> Bool,
        created_by -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    qa_evaluations (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        agent_id -> BigInt,
        queue_id -> Nullable<BigInt>,
        channel -> Text,
        scorecard_id -> Nullable<BigInt>,
        period_from -> Nullable<crate::db::types::Tstz>,
        period_to -> Nullable<crate::db::types::Tstz>,
        reason -> Text,
        status -> Text,
        marks -> Nullable<crate::db::types::Json>,
        score -> Nullable<Double>,
        comment -> Nullable<Text>,
        evaluator_id -> Nullable<BigInt>,
        evaluated_at -> Nullable<crate::db::types::Tstz>,
        dispute_reason -> Nullable<Text>,
        disputed_at -> Nullable<crate::db::types::Tstz>,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<BigInt>,
        resolved_at -> Nullable<crate::db::types::Tstz>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(csat_responses -> tickets (ticket_id));
diesel::joinable!(qa_evaluations -> tickets (ticket_id));
diesel::joinable!(qa_evaluations -> qa_scorecards (scorecard_id));
diesel::table! {
    department_sla_clocks (id) {
        id -> BigInt,
        department_id -> BigInt,
        item_kind -> Text,
        item_id -> BigInt,
        metric -> Text,
        target_minutes -> Integer,
        started_at -> crate::db::types::Tstz,
        warn_at -> Nullable<crate::db::types::Tstz>,
        due_at -> crate::db::types::Tstz,
        stopped_at -> Nullable<crate::db::types::Tstz>,
        warned_at -> Nullable<crate::db::types::Tstz>,
        breached_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> BigInt,
        actor_role -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> BigInt,
        department_id -> Nullable<BigInt>,
        method -> Text,
        path -> Text,
        at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(department_sla_clocks -> departments (department_id));
diesel::joinable!(audit_log -> agents (actor_id));
diesel::joinable!(audit_log -> departments (department_id));

diesel::table! {
    trend_alerts (id) {
        id -> BigInt,
        granularity -> Text,
        category_id -> BigInt,
        keyword -> Text,
        bucket_start -> crate::db::types::Tstz,
        bucket_end -> crate::db::types::Tstz,
        observed -> BigInt,
        baseline_mean -> Double,
        baseline_sigma -> Double,
        threshold -> BigInt,
        p_value -> Double,
        method -> Text,
        detail -> Nullable<crate::db::types::Json>,
        explanation -> Text,
        department_id -> Nullable<BigInt>,
        opportunity_id -> Nullable<BigInt>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::joinable!(categories -> departments (department_id));
diesel::joinable!(trend_alerts -> categories (category_id));
diesel::joinable!(trend_alerts -> departments (department_id));
diesel::joinable!(trend_alerts -> opportunities (opportunity_id));

diesel::table! {
    report_days (id) {
        id -> BigInt,
        day -> Text,
        dim -> Text,
        grp -> Nullable<Text>,
        created -> BigInt,
        resolved -> BigInt,
        solved -> BigInt,
        replies -> BigInt,
        calls_handled -> BigInt,
        handle_secs -> BigInt,
        sla_tickets -> BigInt,
        fr_met -> BigInt,
        fr_breached -> BigInt,
        fr_running -> BigInt,
        res_met -> BigInt,
        res_breached -> BigInt,
        res_running -> BigInt,
        first_reply_secs -> Binary,
        resolution_secs -> Binary,
        calls_offered -> BigInt,
        calls_answered -> BigInt,
        calls_abandoned -> BigInt,
        calls_short -> BigInt,
        call_wait_secs -> Binary,
        solved_breached -> BigInt,
    }
}

diesel::table! {
    report_rollup (id) {
        id -> Integer,
        built -> Bool,
        ticket_cursor -> BigInt,
        call_cursor -> BigInt,
        requesters_seen -> Nullable<crate::db::types::Tstz>,
        refreshed_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    data_fixes (name) {
        name -> Text,
        applied_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    installation (id) {
        id -> Integer,
        installation_id -> Text,
        token_secret -> Text,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        csrf_token -> Text,
        agent_id -> BigInt,
        created_at -> crate::db::types::Tstz,
        last_seen_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    password_links (id) {
        id -> BigInt,
        agent_id -> BigInt,
        token_hash -> Text,
        expires_at -> crate::db::types::Tstz,
        used_at -> Nullable<crate::db::types::Tstz>,
        created_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> BigInt,
        account -> Text,
        ip -> Text,
        at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> BigInt,
        shortcut -> Text,
        title -> Text,
        body -> Text,
        category_id -> Nullable<BigInt>,
        owner_id -> Nullable<BigInt>,
        usage_count -> BigInt,
        created_at -> crate::db::types::Tstz,
        updated_at -> crate::db::types::Tstz,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        agent_id -> BigInt,
        kind -> Text,
        ticket_id -> BigInt,
        event_id -> BigInt,
        title -> Text,
        created_at -> crate::db::types::Tstz,
        read_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::table! {
    log_follower (id) {
        id -> Integer,
        last_event_id -> BigInt,
        updated_at -> Nullable<crate::db::types::Tstz>,
    }
}

diesel::joinable!(sessions -> agents (agent_id));
diesel::joinable!(canned_responses -> categories (category_id));
diesel::joinable!(notifications -> tickets (ticket_id));
diesel::joinable!(password_links -> agents (agent_id));

diesel::joinable!(attachments -> messages (message_row_id));

diesel::allow_tables_to_appear_in_same_query!(
    departments,
    queues,
    categories,
    agents,
    api_tokens,
    requesters,
    tickets,
    ticket_tags,
    messages,
    ticket_events,
    idempotency_keys,
    calendars,
    holidays,
    sla_policies,
    sla_deadlines,
    email_messages,
    ticket_ccs,
    attachments,
    attachment_files,
    attachment_blobs,
    email_quarantine,
    outbox,
    blocked_numbers,
    calls,
    call_events,
    agent_skills,
    agent_presence_log,
    queue_members,
    routing_rules,
    ticket_watchers,
    rotation_plans,
    rotation_log,
    escalations,
    opportunities,
    opportunity_tickets,
    opportunity_events,
    csat_responses,
    qa_scorecards,
    qa_evaluations,
    department_deliveries,
    department_webhooks,
    department_webhook_attempts,
    trend_alerts,
    department_sla_clocks,
    audit_log,
    report_days,
    report_rollup,
    sessions,
    password_links,
    sign_in_failures,
    data_fixes,
    installation,
    ticket_viewers,
    canned_responses,
    notifications,
    log_follower,
);
