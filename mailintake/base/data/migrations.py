"""The registry's schema as numbered migrations, applied in order and recorded
in ``PRAGMA user_version``. Append a new entry; never edit one that has shipped.
"""

MIGRATIONS: list[str] = [
    # 1: the intake core.
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        body_sha256 TEXT,
        message_id TEXT,
        kind TEXT NOT NULL,
        transaction_id TEXT,
        folder TEXT, uidvalidity TEXT, uid TEXT,
        received_at TEXT, internaldate TEXT, date_header TEXT,
        received_chain TEXT, fetched_at TEXT,
        size INTEGER,
        from_addr TEXT, reply_to TEXT, to_addrs TEXT, subject TEXT,
        defects TEXT, flags TEXT, headers TEXT,
        stored INTEGER NOT NULL DEFAULT 0,
        stage TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        outbox_id INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX messages_sha ON messages(sha256);
    CREATE INDEX messages_mid ON messages(message_id);
    CREATE INDEX messages_tid ON messages(transaction_id);
    CREATE TABLE seen (
        folder TEXT NOT NULL, uidvalidity TEXT NOT NULL, uid TEXT NOT NULL,
        message_row INTEGER NOT NULL,
        PRIMARY KEY (folder, uidvalidity, uid)
    );
    CREATE TABLE applications (
        transaction_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        service TEXT,
        applicant_email TEXT NOT NULL,
        applicant_name TEXT,
        subject TEXT,
        received_at TEXT NOT NULL,
        deemed_received_at TEXT NOT NULL,
        ack_due_at TEXT NOT NULL,
        ack_reason TEXT NOT NULL,
        acknowledged_at TEXT,
        problems TEXT NOT NULL DEFAULT '[]',
        flags TEXT NOT NULL DEFAULT '[]',
        assigned_to TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX applications_deemed ON applications(deemed_received_at);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT,
        message_row INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        declared_type TEXT,
        content_type TEXT,
        kind TEXT,
        accepted INTEGER NOT NULL,
        dpi REAL,
        problem TEXT,
        problem_th TEXT,
        problem_en TEXT,
        details TEXT
    );
    CREATE INDEX files_tid ON files(transaction_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        transaction_id TEXT,
        status_before TEXT,
        status_after TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX events_tid ON events(transaction_id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        transaction_id TEXT,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sender TEXT NOT NULL,
        subject TEXT NOT NULL,
        raw BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        copied_to_sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_status ON outbox(status, next_attempt_at);
    CREATE TABLE sequences (
        name TEXT NOT NULL, year INTEGER NOT NULL, value INTEGER NOT NULL,
        PRIMARY KEY (name, year)
    );
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        clock TEXT,
        counts TEXT,
        folders TEXT,
        errors TEXT
    );
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE attempts (sha256 TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at TEXT NOT NULL);
    """,
    # 2: services and inquiries.
    """
    ALTER TABLE applications ADD COLUMN kind TEXT NOT NULL DEFAULT 'application';
    """,
    # 3: the application's life (identity, juristic persons, decision, fee).
    """
    ALTER TABLE applications ADD COLUMN due_at TEXT;
    ALTER TABLE applications ADD COLUMN juristic INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE applications ADD COLUMN identity TEXT;
    ALTER TABLE applications ADD COLUMN poa TEXT;
    ALTER TABLE applications ADD COLUMN stamp TEXT;
    ALTER TABLE applications ADD COLUMN fee_amount INTEGER;
    ALTER TABLE applications ADD COLUMN fee_due_at TEXT;
    ALTER TABLE applications ADD COLUMN payment_ref TEXT;
    ALTER TABLE applications ADD COLUMN decision_reason TEXT;
    ALTER TABLE applications ADD COLUMN replied_at TEXT;
    ALTER TABLE applications ADD COLUMN last_message_id TEXT;
    """,
    # 4: the permit register.
    """
    CREATE TABLE permits (
        number TEXT PRIMARY KEY,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        transaction_id TEXT NOT NULL,
        service TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        holder_email TEXT NOT NULL,
        particulars TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        approver TEXT NOT NULL,
        approver_name TEXT NOT NULL,
        approver_position TEXT NOT NULL,
        status TEXT NOT NULL,
        revoked_at TEXT,
        revoke_reason TEXT,
        password_hash TEXT NOT NULL,
        pdf_sha256 TEXT NOT NULL,
        qr_hash TEXT NOT NULL,
        signed INTEGER NOT NULL DEFAULT 0,
        delivered_at TEXT,
        pdf_message_id TEXT,
        password_message_id TEXT
    );
    CREATE INDEX permits_tid ON permits(transaction_id);
    """,
    # 5: lookups done for every message (answer rate limit, verification limit).
    """
    CREATE INDEX outbox_recipient ON outbox(recipient, created_at);
    CREATE INDEX messages_from_kind ON messages(from_addr, kind);
    """,
    # 6: delivery reports (RFC 3464 notes, RFC 8098 read receipts) and the
    # addresses blocked after a hard bounce.
    """
    ALTER TABLE outbox ADD COLUMN read_at TEXT;
    ALTER TABLE outbox ADD COLUMN delivery_notes TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE blocked_addresses (
        address TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        since TEXT NOT NULL,
        until TEXT NOT NULL,
        outbox_id INTEGER,
        message_row INTEGER
    );
    """,
    # 7: the receipt time's source (R1): "received" (the agency's trusted
    # Received: line, whose time is kept) or "internaldate" (the mailbox's).
    """
    ALTER TABLE messages ADD COLUMN receipt_source TEXT NOT NULL DEFAULT 'internaldate';
    ALTER TABLE messages ADD COLUMN trusted_received_at TEXT;
    """,
    # held mail (issue 11): a message quoting a transaction ID that is neither
    # from the applicant nor an answer to our mail waits for the clerk
    # (kind 'held', the application it names in held_for, why in held_reason).
    """
    ALTER TABLE messages ADD COLUMN held_for TEXT;
    ALTER TABLE messages ADD COLUMN held_reason TEXT;
    CREATE INDEX messages_held ON messages(held_for);
    """,
    # the keyed audit chain (issue 11): each event's HMAC-SHA256 under the audit
    # key (NULL for events written before the deployment had one) and the real
    # time it was written, beside ``at`` (which --now may set).
    """
    ALTER TABLE events ADD COLUMN mac TEXT;
    ALTER TABLE events ADD COLUMN written_at TEXT;
    """,
    # secrets that do not linger, the FAQ and retention (issue 11): the password
    # mail's body sealed under a key kept outside the database (``key_id``),
    # sent by SMS when ``sms_to`` is set; the permit's content hash the QR
    # covers; the clerk's FAQ entries; what ``mailintake purge`` blanked.
    """
    ALTER TABLE outbox ADD COLUMN key_id TEXT;
    ALTER TABLE outbox ADD COLUMN sms_to TEXT;
    ALTER TABLE outbox ADD COLUMN sms_text BLOB;
    ALTER TABLE outbox ADD COLUMN channel TEXT;
    UPDATE outbox SET raw = X'', copied_to_sent = 1 WHERE kind = 'permit_password' AND status != 'pending';
    ALTER TABLE permits ADD COLUMN content_sha256 TEXT;
    CREATE TABLE faq (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    ALTER TABLE applications ADD COLUMN purged_at TEXT;
    ALTER TABLE messages ADD COLUMN purged_at TEXT;
    """,
    # the service clock and s.10 delay notices (issue 12): the clock as the
    # events left it (JSON: state, limit, pauses; ``due_at`` beside it), and one
    # row per delay notice (kind 'notice') or reminder to the clerk (kind
    # 'reminder'), keyed by application, kind and number so a job run twice at
    # the same time sends nothing twice.
    """
    ALTER TABLE applications ADD COLUMN clock TEXT;
    CREATE TABLE delay_notices (
        transaction_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        number INTEGER NOT NULL,
        due_on TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        recipient TEXT,
        message_id TEXT,
        opdc_recipient TEXT,
        opdc_message_id TEXT,
        PRIMARY KEY (transaction_id, kind, number)
    );
    """,
    # deadlines (issue 12): one row per mail a deadline job sent (a reminder to
    # the applicant, a withdrawal, the acknowledgement watchdog's alert, the
    # clerks' daily digest), keyed by application ('' for none), kind and due
    # date, written with its mail so a job run twice sends nothing twice; the
    # applicant's satisfaction score (1-5) once the application is closed.
    """
    CREATE TABLE deadline_mail (
        transaction_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        due_on TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        recipient TEXT,
        message_id TEXT,
        detail TEXT,
        PRIMARY KEY (transaction_id, kind, due_on)
    );
    ALTER TABLE applications ADD COLUMN satisfaction INTEGER;
    ALTER TABLE applications ADD COLUMN satisfaction_at TEXT;
    """,
    # the official registry book (issue 16): one book for every channel, its
    # number from the yearly sequence "book" (year: the Gregorian year of the
    # registration day, printed B.E.), the eight columns of the incoming register
    # and who registered; a cancelled number stays, marked; the stamped copies
    # of the first PDF, linked to the original by its hash.
    """
    CREATE TABLE book (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        number INTEGER NOT NULL,
        channel TEXT NOT NULL,
        transaction_id TEXT,
        registered_on TEXT NOT NULL,
        received_at TEXT NOT NULL,
        reference TEXT,
        dated TEXT,
        sender TEXT NOT NULL,
        addressee TEXT,
        subject TEXT NOT NULL,
        remarks TEXT,
        file_sha256 TEXT,
        file_name TEXT,
        registered_by TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        routed_to TEXT,
        routed_at TEXT,
        routed_by TEXT,
        route_note TEXT,
        cancelled_at TEXT,
        cancelled_by TEXT,
        cancel_reason TEXT
    );
    CREATE INDEX book_number ON book(year, number);
    CREATE INDEX book_tid ON book(transaction_id);
    CREATE INDEX book_day ON book(registered_on);
    CREATE TABLE stamped_files (
        transaction_id TEXT NOT NULL,
        original_sha256 TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        made_at TEXT NOT NULL,
        PRIMARY KEY (transaction_id, original_sha256)
    );
    """,
    # Issue 16: the destruction lists (บัญชีหนังสือขอทำลาย) and their items; the
    # committee's approval recorded on the list, the erasing done by ops.purge.
    """
    CREATE TABLE destruction_lists (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        made_at TEXT NOT NULL,
        made_by TEXT NOT NULL,
        approved_by TEXT,
        approved_on TEXT,
        approved_at TEXT,
        recorded_by TEXT
    );
    CREATE TABLE destruction_items (
        list_id INTEGER NOT NULL REFERENCES destruction_lists(id),
        position INTEGER NOT NULL,
        book_id INTEGER NOT NULL,
        transaction_id TEXT,
        keep_until INTEGER NOT NULL,
        PRIMARY KEY (list_id, position)
    );
    CREATE INDEX destruction_tid ON destruction_items(transaction_id);
    """,
    # Issue 13: the clerk's matches of a service's required documents to files
    # received (``triage doc``); automatic matches are computed, never stored.
    """
    CREATE TABLE checklist_matches (
        transaction_id TEXT NOT NULL,
        document INTEGER NOT NULL,
        file_id INTEGER NOT NULL,
        matched_by TEXT NOT NULL,
        matched_at TEXT NOT NULL,
        PRIMARY KEY (transaction_id, document)
    );
    """,
    # Issue 13: the reply address an applicant names in the application (R5);
    # the FAQ's English (R28); the official e-receipts, each kept with its PDF
    # in the file store (R17).
    """
    ALTER TABLE applications ADD COLUMN reply_to TEXT;
    ALTER TABLE faq ADD COLUMN question_en TEXT;
    ALTER TABLE faq ADD COLUMN answer_en TEXT;
    CREATE TABLE receipts (
        label TEXT PRIMARY KEY,
        transaction_id TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        amount INTEGER NOT NULL,
        reference TEXT,
        issued_by TEXT NOT NULL,
        sha256 TEXT NOT NULL
    );
    CREATE INDEX receipts_tid ON receipts(transaction_id);
    """,
    # Issue 13 (R10): appointments at the counter, each with its queue number of
    # the day and office; the offers of free slots a reply's number points into.
    """
    CREATE TABLE appointments (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        office TEXT NOT NULL,
        day TEXT NOT NULL,
        slot TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        queue_number INTEGER NOT NULL,
        status TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        sequence INTEGER NOT NULL DEFAULT 0,
        offer_id INTEGER,
        source_message TEXT,
        booked_at TEXT NOT NULL,
        booked_by TEXT NOT NULL,
        reminded_at TEXT,
        cancelled_at TEXT,
        cancelled_by TEXT,
        cancel_reason TEXT,
        cancel_source TEXT,
        attended_at TEXT,
        attended_by TEXT,
        UNIQUE (day, office, queue_number)
    );
    CREATE INDEX appointments_tid ON appointments(transaction_id);
    CREATE INDEX appointments_slot ON appointments(day, office, kind, slot);
    CREATE UNIQUE INDEX appointments_source ON appointments(source_message) WHERE source_message IS NOT NULL;
    CREATE TABLE appointment_offers (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        why TEXT NOT NULL,
        slots TEXT NOT NULL,
        source_message TEXT,
        message_id TEXT,
        offered_at TEXT NOT NULL,
        offered_by TEXT NOT NULL
    );
    CREATE INDEX appointment_offers_tid ON appointment_offers(transaction_id);
    """,
]
