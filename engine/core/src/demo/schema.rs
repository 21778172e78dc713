//! The demo data set's tables: names, SQL types and descriptions, in one place.
//!
//! The same text becomes the DuckDB DDL, the `COMMENT`s in the catalog and `docs/demo-data.md`.

/// One column of a demo table.
#[derive(Debug)]
pub struct ColumnDoc {
    /// Column name.
    pub name: &'static str,
    /// DuckDB type.
    pub sql_type: &'static str,
    /// What the column holds.
    pub description: &'static str,
}

/// One demo table.
#[derive(Debug)]
pub struct TableDoc {
    /// Table name.
    pub name: &'static str,
    /// What a row is.
    pub description: &'static str,
    /// Its columns, in order.
    pub columns: &'static [ColumnDoc],
    /// The primary key's columns.
    pub primary_key: &'static [&'static str],
    /// Foreign keys: `(column, referenced table)`, each referencing that table's one-column
    /// primary key.
    pub references: &'static [(&'static str, &'static str)],
}

macro_rules! columns {
    ($($name:literal $ty:literal $doc:literal),+ $(,)?) => {
        &[$(ColumnDoc { name: $name, sql_type: $ty, description: $doc }),+]
    };
}

/// Every demo table, in load order.
pub const TABLES: &[TableDoc] = &[
    TableDoc {
        name: "customers",
        description: "People and companies who booked at least once or entered the CRM as a lead.",
        columns: columns![
            "customer_id" "BIGINT" "Customer identifier.",
            "name" "VARCHAR" "Full name, or company name for business customers.",
            "email" "VARCHAR" "Contact e-mail address (unique).",
            "segment" "VARCHAR" "Pricing segment: budget, standard, premium or business.",
            "country" "VARCHAR" "ISO 3166-1 alpha-2 country of residence.",
            "signup_date" "DATE" "Day the customer record was created.",
            "nps" "SMALLINT" "Latest Net Promoter Score answer, 0-10; NULL when the customer never answered the survey.",
        ],
        primary_key: &["customer_id"],
        references: &[],
    },
    TableDoc {
        name: "tours",
        description: "The tour catalogue.",
        columns: columns![
            "tour_id" "INTEGER" "Tour identifier.",
            "name" "VARCHAR" "Tour name as sold.",
            "category" "VARCHAR" "cultural, adventure, beach, food, nature or luxury; demand elasticity differs by category.",
            "region" "VARCHAR" "Destination region; joins external_factors.region.",
            "base_price" "DECIMAL(10,2)" "List price per traveler in EUR before dynamic pricing.",
            "unit_cost" "DECIMAL(10,2)" "Operator's cost per traveler in EUR.",
            "capacity" "INTEGER" "Maximum travelers per departure.",
            "duration_days" "SMALLINT" "Length of the tour in days.",
        ],
        primary_key: &["tour_id"],
        references: &[],
    },
    TableDoc {
        name: "partners",
        description: "Business partners who sell tours: B2B travel agencies and B2B2C resellers.",
        columns: columns![
            "partner_id" "INTEGER" "Partner identifier.",
            "name" "VARCHAR" "Partner company name.",
            "kind" "VARCHAR" "agency (B2B channel) or reseller (B2B2C channel).",
            "country" "VARCHAR" "ISO 3166-1 alpha-2 country of the partner.",
            "commission_rate" "DECIMAL(4,3)" "Share of price_paid paid to the partner as commission.",
        ],
        primary_key: &["partner_id"],
        references: &[],
    },
    TableDoc {
        name: "bookings",
        description: "One row per booking. Revenue is price_paid of bookings with status confirmed or completed.",
        columns: columns![
            "booking_id" "BIGINT" "Booking identifier.",
            "customer_id" "BIGINT" "The traveler's customer record (customers.customer_id).",
            "tour_id" "INTEGER" "The tour booked (tours.tour_id).",
            "channel" "VARCHAR" "Sales channel: B2C (direct), B2B (through an agency) or B2B2C (through a reseller).",
            "partner_id" "INTEGER" "Selling partner for B2B and B2B2C bookings; NULL for B2C.",
            "status" "VARCHAR" "pending, confirmed, completed, cancelled or refunded.",
            "price_paid" "DECIMAL(12,2)" "Total price paid in EUR for all travelers, after dynamic pricing.",
            "commission" "DECIMAL(12,2)" "Commission owed to the partner in EUR; 0 for B2C.",
            "travelers" "SMALLINT" "Number of travelers on the booking.",
            "unit_price" "DECIMAL(10,2)" "Price per traveler in EUR (price_paid / travelers).",
            "price_index" "DOUBLE" "Dynamic-pricing multiplier applied to the tour's base_price that week (1.0 = list price).",
            "created_at" "TIMESTAMP" "When the booking was made (UTC).",
            "travel_date" "DATE" "Departure day.",
        ],
        primary_key: &["booking_id"],
        references: &[
            ("customer_id", "customers"),
            ("tour_id", "tours"),
            ("partner_id", "partners"),
        ],
    },
    TableDoc {
        name: "payments",
        description: "Payment attempts and refunds through the payment providers.",
        columns: columns![
            "payment_id" "BIGINT" "Payment identifier.",
            "booking_id" "BIGINT" "The booking paid (bookings.booking_id).",
            "provider" "VARCHAR" "stripe, paypal or square.",
            "amount" "DECIMAL(12,2)" "Amount in EUR; negative for refunds.",
            "fee" "DECIMAL(10,2)" "Provider fee in EUR.",
            "status" "VARCHAR" "succeeded, failed or refunded.",
            "created_at" "TIMESTAMP" "When the provider processed it (UTC).",
        ],
        primary_key: &["payment_id"],
        references: &[("booking_id", "bookings")],
    },
    TableDoc {
        name: "leads",
        description: "Sales leads in the CRM pipeline.",
        columns: columns![
            "lead_id" "BIGINT" "Lead identifier.",
            "customer_id" "BIGINT" "Customer record of the lead's contact.",
            "source" "VARCHAR" "Acquisition source: website, google_ads, facebook, instagram, referral, partner, trade_show or email_campaign.",
            "channel" "VARCHAR" "Channel the lead would buy through: B2C, B2B or B2B2C.",
            "stage" "VARCHAR" "Pipeline stage now: new, contacted, qualified, proposal, negotiation, won or lost.",
            "estimated_value" "DECIMAL(12,2)" "Expected deal value in EUR.",
            "first_response_minutes" "INTEGER" "Minutes until the first reply from sales; faster replies convert better.",
            "created_at" "TIMESTAMP" "When the lead entered the CRM (UTC).",
            "converted_at" "TIMESTAMP" "When the lead was won; NULL unless stage = won.",
            "closed_at" "TIMESTAMP" "When the lead was won or lost; NULL while open.",
        ],
        primary_key: &["lead_id"],
        references: &[("customer_id", "customers")],
    },
    TableDoc {
        name: "crm_interactions",
        description: "Touch points between sales and a lead or customer.",
        columns: columns![
            "interaction_id" "BIGINT" "Interaction identifier.",
            "lead_id" "BIGINT" "The lead (leads.lead_id).",
            "customer_id" "BIGINT" "The lead's customer record.",
            "channel" "VARCHAR" "email, phone, meeting, chat or whatsapp.",
            "kind" "VARCHAR" "outreach, follow_up, demo, quote or negotiation.",
            "outcome" "VARCHAR" "positive, neutral or negative.",
            "created_at" "TIMESTAMP" "When it happened (UTC).",
        ],
        primary_key: &["interaction_id"],
        references: &[("lead_id", "leads"), ("customer_id", "customers")],
    },
    TableDoc {
        name: "tickets",
        description: "Customer support tickets.",
        columns: columns![
            "ticket_id" "BIGINT" "Ticket identifier.",
            "customer_id" "BIGINT" "Customer who opened it.",
            "booking_id" "BIGINT" "The booking it is about.",
            "priority" "VARCHAR" "low, medium, high or urgent.",
            "channel" "VARCHAR" "email, phone, chat or whatsapp.",
            "opened_at" "TIMESTAMP" "When it was opened (UTC).",
            "resolved_at" "TIMESTAMP" "When it was resolved; NULL while open.",
            "sla_hours" "INTEGER" "Resolution target in hours for its priority.",
            "csat" "SMALLINT" "Customer satisfaction 1-5 given after resolution; NULL if not rated.",
        ],
        primary_key: &["ticket_id"],
        references: &[("customer_id", "customers"), ("booking_id", "bookings")],
    },
    TableDoc {
        name: "ai_agents",
        description: "The 25 AI agents, in three tracks: 1 customer-facing sales and service, 2 operations, 3 analytics and back office.",
        columns: columns![
            "agent_id" "INTEGER" "Agent identifier.",
            "name" "VARCHAR" "Agent name.",
            "track" "SMALLINT" "Track 1, 2 or 3.",
            "specialty" "VARCHAR" "What the agent does.",
        ],
        primary_key: &["agent_id"],
        references: &[],
    },
    TableDoc {
        name: "ai_interactions",
        description: "One request handled by an AI agent.",
        columns: columns![
            "interaction_id" "BIGINT" "Interaction identifier.",
            "agent_id" "INTEGER" "The agent (ai_agents.agent_id).",
            "customer_id" "BIGINT" "Customer served; NULL for anonymous visitors and internal requests.",
            "started_at" "TIMESTAMP" "When the request arrived (UTC).",
            "response_ms" "INTEGER" "Time to the agent's answer in milliseconds.",
            "success" "BOOLEAN" "Whether the request was completed without human hand-off.",
            "csat" "SMALLINT" "Rating 1-5 given by the customer; NULL if not rated.",
            "revenue_attributed" "DECIMAL(12,2)" "Booking revenue in EUR attributed to this interaction; 0 when none.",
        ],
        primary_key: &["interaction_id"],
        references: &[("agent_id", "ai_agents"), ("customer_id", "customers")],
    },
    TableDoc {
        name: "calls",
        description: "Inbound calls to the PBX call center, answered by people or the voice AI.",
        columns: columns![
            "call_id" "BIGINT" "Call identifier.",
            "handled_by" "VARCHAR" "human or voice_ai.",
            "agent_id" "INTEGER" "For voice_ai the AI agent (ai_agents.agent_id); for human the call-center employee number (1001-1024).",
            "queue" "VARCHAR" "sales, support, changes or vip.",
            "started_at" "TIMESTAMP" "When the call reached the queue (UTC).",
            "wait_seconds" "INTEGER" "Seconds in the queue before answer or hang-up.",
            "handle_seconds" "INTEGER" "Talk time in seconds; 0 when not answered.",
            "answered" "BOOLEAN" "False when the caller hung up while waiting.",
            "voice_quality" "DOUBLE" "Mean opinion score 1-5 of the audio; NULL when not answered.",
            "outcome" "VARCHAR" "resolved, booking_made, transferred, callback or abandoned.",
        ],
        primary_key: &["call_id"],
        references: &[],
    },
    TableDoc {
        name: "notifications",
        description: "Messages sent to customers about their bookings.",
        columns: columns![
            "notification_id" "BIGINT" "Notification identifier.",
            "customer_id" "BIGINT" "Recipient.",
            "booking_id" "BIGINT" "Booking it is about.",
            "kind" "VARCHAR" "confirmation, reminder or review_request.",
            "channel" "VARCHAR" "email, sms, push or whatsapp.",
            "sent_at" "TIMESTAMP" "When it was sent (UTC).",
            "delivered" "BOOLEAN" "Whether the provider confirmed delivery.",
            "opened" "BOOLEAN" "Whether the recipient opened it.",
        ],
        primary_key: &["notification_id"],
        references: &[("customer_id", "customers"), ("booking_id", "bookings")],
    },
    TableDoc {
        name: "external_factors",
        description: "Daily weather, holidays and events per destination region.",
        columns: columns![
            "day" "DATE" "Calendar day.",
            "region" "VARCHAR" "Destination region; joins tours.region.",
            "temperature_c" "DOUBLE" "Mean air temperature in degrees Celsius.",
            "precipitation_mm" "DOUBLE" "Rainfall in millimetres.",
            "is_holiday" "BOOLEAN" "Public holiday in the main source markets.",
            "local_event" "VARCHAR" "Notable local event that day; NULL when none.",
        ],
        primary_key: &["day", "region"],
        references: &[],
    },
];

impl TableDoc {
    /// `CREATE TABLE` with its primary key, followed by the `COMMENT ON` statements for the table
    /// and its columns. Foreign keys are declared, not enforced (see [`Self::declare_references`]).
    pub fn ddl(&self) -> String {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("    {} {}", c.name, c.sql_type))
            .collect();
        lines.push(format!("    PRIMARY KEY ({})", self.primary_key.join(", ")));
        let mut sql = format!("CREATE TABLE {} (\n{}\n);\n", self.name, lines.join(",\n"));
        sql.push_str(&format!(
            "COMMENT ON TABLE {} IS {};\n",
            self.name,
            crate::store::quote_literal(self.description)
        ));
        for c in self.columns {
            sql.push_str(&format!(
                "COMMENT ON COLUMN {}.{} IS {};\n",
                self.name,
                c.name,
                crate::store::quote_literal(c.description)
            ));
        }
        sql
    }

    /// Records the table's foreign keys in the catalog as declared (informational) keys, as
    /// analytical stores such as Snowflake and BigQuery keep them: DuckDB would enforce them
    /// with an index per key, which more than doubles the store. [`crate::demo::generate`]
    /// checks them once after loading instead.
    pub fn declare_references(&self) -> String {
        let mut sql = format!(
            "DELETE FROM spirit_internal.declared_foreign_keys \
             WHERE schema_name = 'main' AND table_name = {};\n",
            crate::store::quote_literal(self.name)
        );
        for (column, table) in self.references {
            sql.push_str(&format!(
                "INSERT INTO spirit_internal.declared_foreign_keys VALUES ('main', {}, {}, {}, {});\n",
                crate::store::quote_literal(self.name),
                crate::store::quote_literal(column),
                crate::store::quote_literal(table),
                crate::store::quote_literal(referenced_key(table))
            ));
        }
        sql
    }

    /// A query counting the rows whose foreign keys find no referenced row (0 when all do).
    pub fn orphans_query(&self) -> Option<String> {
        let checks: Vec<String> = self
            .references
            .iter()
            .map(|(column, table)| {
                format!(
                    "SELECT count(*) FROM {name} c WHERE c.{column} IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM {table} p WHERE p.{key} = c.{column})",
                    name = self.name,
                    key = referenced_key(table)
                )
            })
            .collect();
        (!checks.is_empty()).then(|| {
            format!(
                "SELECT {}",
                checks
                    .iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" + ")
            )
        })
    }
}

/// The one-column primary key of the demo table `table`, which foreign keys reference.
fn referenced_key(table: &str) -> &'static str {
    match TABLES.iter().find(|t| t.name == table) {
        Some(TableDoc {
            primary_key: [key], ..
        }) => key,
        _ => panic!("demo foreign keys reference a table with a one-column primary key: {table}"),
    }
}

/// The schema reference in Markdown, as in `docs/demo-data.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Demo data set: tables and columns\n\n\
         What `spirit demo` generates, from `engine/core/src/demo/schema.rs`; the same descriptions \
         are the COMMENTs in the catalog. Regenerate this file with \
         `UPDATE_DOCS=1 cargo test --workspace --lib demo_docs`.\n",
    );
    for table in TABLES {
        out.push_str(&format!("\n## {}\n\n{}\n\n", table.name, table.description));
        out.push_str(&format!(
            "Primary key: {}.\n\n",
            table.primary_key.join(", ")
        ));
        if !table.references.is_empty() {
            let references: Vec<String> = table
                .references
                .iter()
                .map(|(column, target)| format!("{column} → {target}.{}", referenced_key(target)))
                .collect();
            out.push_str(&format!("Foreign keys: {}.\n\n", references.join(", ")));
        }
        out.push_str("| column | type | description |\n| --- | --- | --- |\n");
        for c in table.columns {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                c.name, c.sql_type, c.description
            ));
        }
    }
    out
}
