//! The Spirit Tours simulation: a day-by-day model of bookings, payments, CRM, support, AI agents
//! and the call center, written straight into the store through DuckDB appenders.
//!
//! Every effect listed in [`super::truths`] is applied here and nowhere else.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use duckdb::{Appender, Connection, params};
use indicatif::ProgressBar;

use super::random::{Random, cents, sigmoid};
use super::truths::*;

const REGIONS: &[(&str, f64, f64, f64)] = &[
    // (region, mean temperature, seasonal amplitude, rain probability)
    ("Mediterranean", 18.0, 7.5, 0.18),
    ("Alps", 7.0, 10.0, 0.35),
    ("Iberia", 17.0, 8.0, 0.15),
    ("Nordics", 5.0, 10.5, 0.40),
    ("Balkans", 13.0, 10.0, 0.28),
];
const PLACES: &[&[&str]] = &[
    &["Amalfi", "Santorini", "Sicily", "Crete", "Malta"],
    &["Zermatt", "Tyrol", "Dolomites", "Chamonix", "Salzburg"],
    &["Andalusia", "Lisbon", "Porto", "Madrid", "Algarve"],
    &["Lofoten", "Stockholm", "Lapland", "Fjords", "Copenhagen"],
    &["Dubrovnik", "Kotor", "Ohrid", "Split", "Sarajevo"],
];
const CATEGORY_NOUNS: &[&[&str]] = &[
    &[
        "Heritage Walk",
        "Old Town & Museums",
        "History Trail",
        "Art Week",
    ],
    &["Trek", "Kayak Expedition", "Climbing Camp", "Bike Odyssey"],
    &[
        "Beach Escape",
        "Island Hopper",
        "Coastal Retreat",
        "Sun Week",
    ],
    &[
        "Food Tour",
        "Wine & Tapas",
        "Cooking School",
        "Market Mornings",
    ],
    &[
        "Nature Safari",
        "National Park Hike",
        "Lakes & Forests",
        "Wildlife Week",
    ],
    &[
        "Private Villa Week",
        "Grand Tour",
        "Yacht Charter",
        "Five-Star Journey",
    ],
];
const CATEGORY_PRICE: [(f64, f64); 6] = [
    (180.0, 450.0),
    (250.0, 900.0),
    (350.0, 1200.0),
    (90.0, 250.0),
    (150.0, 600.0),
    (1500.0, 4000.0),
];
const SEGMENTS: &[(&str, f64, f64, f64)] = &[
    // (segment, share of new customers, price factor, mean of latent satisfaction)
    ("budget", 0.30, 0.95, -0.3),
    ("standard", 0.40, 1.00, 0.0),
    ("premium", 0.18, 1.00, 0.35),
    ("business", 0.12, 0.92, 0.1),
];
const COUNTRIES: &[(&str, f64)] = &[
    ("DE", 0.20),
    ("GB", 0.15),
    ("FR", 0.12),
    ("US", 0.12),
    ("ES", 0.08),
    ("IT", 0.08),
    ("NL", 0.06),
    ("SE", 0.04),
    ("CH", 0.04),
    ("BE", 0.03),
    ("AT", 0.03),
    ("PL", 0.02),
    ("CA", 0.02),
    ("AU", 0.01),
];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Lukas", "Emma", "Noah", "Mia", "Leon", "Sofia", "Elias", "Olivia", "Jonas", "Lea",
    "Paul", "Clara", "Louis", "Amelia", "Jack", "Isla", "Oliver", "Chloe", "Hugo", "Lucia",
    "Mateo", "Giulia", "Marco", "Sara", "Daan", "Freya", "Liam", "Ava", "Ethan",
];
const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Smith",
    "Jones",
    "Martin",
    "Bernard",
    "García",
    "López",
    "Rossi",
    "Russo",
    "de Jong",
    "Jansen",
    "Andersson",
    "Johansson",
    "Meier",
    "Keller",
    "Peeters",
    "Gruber",
    "Nowak",
    "Brown",
    "Wilson",
    "Taylor",
    "Moreau",
    "Dubois",
    "Ferrari",
    "Novak",
];
const COMPANY_SUFFIXES: &[&str] = &["GmbH", "Ltd", "Consulting", "Group", "Partners", "AG"];
const PARTNER_WORDS: &[&str] = &[
    "Horizon",
    "Atlas",
    "Compass",
    "Voyager",
    "Meridian",
    "Wanderlust",
    "Globe",
    "Odyssey",
    "Nomad",
    "Sunrise",
    "Aurora",
    "Pioneer",
    "Explorer",
    "Journey",
    "Summit",
];
const AGENTS: &[(&str, i16, &str)] = &[
    ("Aria", 1, "booking assistant"),
    ("Milo", 1, "trip planner"),
    ("Nova", 1, "customer support"),
    ("Leo", 1, "upsell advisor"),
    ("Vox", 1, "voice concierge (call center)"),
    ("Echo", 1, "voice support (call center)"),
    ("Lingo", 1, "multilingual chat"),
    ("Loyal", 1, "loyalty and rewards"),
    ("Desk", 1, "B2B agency desk"),
    ("Penny", 1, "payments helper"),
    ("Atlas", 2, "itinerary optimizer"),
    ("Stock", 2, "inventory manager"),
    ("Link", 2, "supplier coordinator"),
    ("Price", 2, "dynamic pricing"),
    ("Shield", 2, "fraud screening"),
    ("Storm", 2, "disruption handler"),
    ("Visa", 2, "visa and documents"),
    ("Group", 2, "group logistics"),
    ("Ledger", 3, "revenue analyst"),
    ("Oracle", 3, "demand forecaster"),
    ("Keeper", 3, "churn watcher"),
    ("Quill", 3, "marketing copywriter"),
    ("Scribe", 3, "report writer"),
    ("Audit", 3, "data quality"),
    ("Lex", 3, "compliance auditor"),
];
/// Agents whose successful conversations can end in a booking.
const SELLING_AGENTS: &[usize] = &[0, 1, 3, 6, 8];
/// Agents that answer calls as the voice AI.
const VOICE_AGENTS: &[usize] = &[4, 5];
const EVENTS: &[&str] = &[
    "Music festival",
    "Marathon",
    "Regatta",
    "Wine fair",
    "Jazz week",
    "Film festival",
    "Christmas market",
    "Carnival",
];
const STAGES: [&str; 5] = ["new", "contacted", "qualified", "proposal", "negotiation"];

/// What a run of the simulation is asked to do.
pub struct SimulationOptions {
    /// Volume multiplier (1 = about 100k bookings).
    pub scale: u32,
    /// Random seed.
    pub seed: u64,
    /// Last simulated day; the data covers the three years ending on it.
    pub end_date: NaiveDate,
}

struct Customer {
    segment: usize,
    country: usize,
    signup: NaiveDate,
    /// The customer's true NPS answer; only some customers report it.
    true_nps: i16,
    reports_nps: bool,
    bad_tickets: u32,
    /// Position in `World::active` while the customer may still book.
    active_slot: Option<usize>,
}

struct Tour {
    base_price: f64,
}

struct Partner {
    commission_rate: f64,
}

struct Agent {
    track: i16,
    success_rate: f64,
    median_ms: f64,
    weight: f64,
}

/// Row counts per table.
pub type RowCounts = Vec<(&'static str, u64)>;

struct Tables<'c> {
    appenders: HashMap<&'static str, Appender<'c>>,
    counts: HashMap<&'static str, u64>,
}

impl<'c> Tables<'c> {
    fn new(conn: &'c Connection) -> duckdb::Result<Self> {
        let mut appenders = HashMap::new();
        for table in super::schema::TABLES {
            appenders.insert(table.name, conn.appender(table.name)?);
        }
        Ok(Self {
            appenders,
            counts: HashMap::new(),
        })
    }

    fn add(&mut self, table: &'static str, row: &[&dyn duckdb::ToSql]) -> duckdb::Result<()> {
        *self.counts.entry(table).or_default() += 1;
        self.appenders
            .get_mut(table)
            .expect("every demo table has an appender")
            .append_row(row)
    }

    fn finish(mut self) -> duckdb::Result<RowCounts> {
        for appender in self.appenders.values_mut() {
            appender.flush()?;
        }
        Ok(super::schema::TABLES
            .iter()
            .map(|t| (t.name, self.counts.get(t.name).copied().unwrap_or(0)))
            .collect())
    }
}

struct World<'c> {
    rng: Random,
    opts: SimulationOptions,
    start: NaiveDate,
    end_instant: NaiveDateTime,
    tables: Tables<'c>,
    customers: Vec<Customer>,
    /// Customers who may book again (indexes into `customers`).
    active: Vec<usize>,
    tours: Vec<Tour>,
    tours_by_category: Vec<Vec<usize>>,
    partners: Vec<Partner>,
    /// Agencies and resellers with their popularity weights (Zipf-like).
    partner_pools: [(Vec<usize>, Vec<f64>); 2],
    agents: Vec<Agent>,
    price_index: Vec<f64>,
    next_id: HashMap<&'static str, i64>,
}

/// Runs the simulation, appending to the (empty) demo tables on `conn`.
pub fn simulate(
    conn: &Connection,
    opts: SimulationOptions,
    progress: &ProgressBar,
) -> duckdb::Result<RowCounts> {
    let start = opts.end_date - Duration::days(365 * 3);
    let end_instant = (opts.end_date + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let mut world = World {
        rng: Random::new(opts.seed),
        opts,
        start,
        end_instant,
        tables: Tables::new(conn)?,
        customers: Vec::new(),
        active: Vec::new(),
        tours: Vec::new(),
        tours_by_category: vec![Vec::new(); CATEGORIES.len()],
        partners: Vec::new(),
        partner_pools: Default::default(),
        agents: Vec::new(),
        price_index: vec![1.0; CATEGORIES.len()],
        next_id: HashMap::new(),
    };
    world.catalogue()?;
    let days = (world.opts.end_date - start).num_days() + 1;
    progress.set_length(days as u64);
    for offset in 0..days {
        let day = start + Duration::days(offset);
        world.simulate_day(day)?;
        progress.inc(1);
    }
    world.write_customers()?;
    world.tables.finish()
}

impl World<'_> {
    fn id(&mut self, table: &'static str) -> i64 {
        let next = self.next_id.entry(table).or_insert(0);
        *next += 1;
        *next
    }

    fn scale(&self) -> f64 {
        f64::from(self.opts.scale)
    }

    fn catalogue(&mut self) -> duckdb::Result<()> {
        for (category, (name, _, _)) in CATEGORIES.iter().enumerate() {
            for i in 0..10 {
                let region = (category + i) % REGIONS.len();
                let place = PLACES[region][(i / REGIONS.len() + category) % PLACES[region].len()];
                let noun = CATEGORY_NOUNS[category][i % CATEGORY_NOUNS[category].len()];
                let (low, high) = CATEGORY_PRICE[category];
                let base_price = cents(self.rng.uniform(low, high));
                let unit_cost = cents(base_price * self.rng.uniform(0.50, 0.65));
                let capacity = if *name == "luxury" {
                    self.rng.int(6, 12)
                } else {
                    self.rng.int(12, 40)
                };
                let duration = self.rng.int(1, if *name == "food" { 3 } else { 12 });
                let tour_id = self.tours.len() as i32 + 1;
                self.tables.add(
                    "tours",
                    params![
                        tour_id,
                        format!("{place} {noun}"),
                        name,
                        REGIONS[region].0,
                        base_price,
                        unit_cost,
                        capacity,
                        duration
                    ],
                )?;
                self.tours_by_category[category].push(self.tours.len());
                self.tours.push(Tour { base_price });
            }
        }
        for i in 0..40 {
            let kind_b2b = i < 25;
            let rate = if kind_b2b {
                self.rng.uniform(0.08, 0.12)
            } else {
                self.rng.uniform(0.12, 0.18)
            };
            let rate = (rate * 1000.0).round() / 1000.0;
            let word = PARTNER_WORDS[i % PARTNER_WORDS.len()];
            let name = match (kind_b2b, i / PARTNER_WORDS.len()) {
                (true, 0) => format!("{word} Travel"),
                (true, _) => format!("{word} Tours & Incentives"),
                (false, 0) => format!("{word} Deals"),
                (false, _) => format!("{word} Marketplace"),
            };
            let country = COUNTRIES[self.rng.weighted(&weights(COUNTRIES))].0;
            self.tables.add(
                "partners",
                params![
                    i as i32 + 1,
                    name,
                    if kind_b2b { "agency" } else { "reseller" },
                    country,
                    rate
                ],
            )?;
            let pool = &mut self.partner_pools[usize::from(!kind_b2b)];
            pool.1.push(1.0 / (pool.0.len() as f64 + 1.0).powf(0.8));
            pool.0.push(self.partners.len());
            self.partners.push(Partner {
                commission_rate: rate,
            });
        }
        for (i, (name, track, specialty)) in AGENTS.iter().enumerate() {
            let (median_low, median_high, weight) = match track {
                1 => (900.0, 1800.0, 3.0),
                2 => (1500.0, 3500.0, 1.5),
                _ => (2500.0, 6000.0, 0.6),
            };
            self.agents.push(Agent {
                track: *track,
                success_rate: self.rng.uniform(0.88, 0.985),
                median_ms: self.rng.uniform(median_low, median_high),
                weight,
            });
            self.tables
                .add("ai_agents", params![i as i32 + 1, name, track, specialty])?;
        }
        Ok(())
    }

    fn simulate_day(&mut self, day: NaiveDate) -> duckdb::Result<()> {
        if day.weekday() == Weekday::Mon || day == self.start {
            for index in self.price_index.iter_mut() {
                *index = self.rng.uniform(PRICE_INDEX_RANGE.0, PRICE_INDEX_RANGE.1);
            }
        }
        let holiday = is_holiday(day);
        self.external_factors(day, holiday)?;
        let years = (day - self.start).num_days() as f64 / 365.25;
        let season = yearly_factor(day);
        let mut demand = BASE_DAILY_BOOKINGS
            * self.scale()
            * (1.0 + ANNUAL_GROWTH).powf(years)
            * WEEKDAY_FACTOR[day.weekday().num_days_from_monday() as usize]
            * season;
        if holiday {
            demand *= HOLIDAY_FACTOR;
        }
        if is_winter_season(day) {
            demand *= WINTER_SEASON_FACTOR;
        }
        for (category, (_, share, elasticity)) in CATEGORIES.iter().enumerate() {
            let price_index = self.price_index[category];
            let count = self
                .rng
                .poisson(demand * share * price_index.powf(*elasticity));
            for _ in 0..count {
                self.booking(day, category, price_index)?;
            }
        }
        self.ai_interactions(day, years, season)?;
        self.calls(day, years, season)?;
        self.leads(day, season)?;
        Ok(())
    }

    fn external_factors(&mut self, day: NaiveDate, holiday: bool) -> duckdb::Result<()> {
        let phase = std::f64::consts::TAU * (f64::from(day.ordinal()) - 200.0) / 365.25;
        for (region, mean, amplitude, rain) in REGIONS {
            let temperature = mean + amplitude * phase.cos() + 2.5 * self.rng.normal();
            let rain_p = rain * (1.0 - 0.4 * phase.cos());
            let precipitation = if self.rng.chance(rain_p) {
                (self.rng.exponential(6.0) * 10.0).round() / 10.0
            } else {
                0.0
            };
            let event = self.rng.chance(0.025).then(|| *self.rng.pick(EVENTS));
            self.tables.add(
                "external_factors",
                params![
                    day,
                    region,
                    (temperature * 10.0).round() / 10.0,
                    precipitation,
                    holiday,
                    event
                ],
            )?;
        }
        Ok(())
    }

    fn new_customer(&mut self, signup: NaiveDate, segment: Option<usize>) -> usize {
        let segment = segment.unwrap_or_else(|| self.rng.weighted(&weights3(SEGMENTS)));
        let country = self.rng.weighted(&weights(COUNTRIES));
        let satisfaction = SEGMENTS[segment].3 + self.rng.normal();
        let true_nps = (7.5 + 1.8 * satisfaction).round().clamp(0.0, 10.0) as i16;
        let reports_nps = self.rng.chance(0.65);
        self.customers.push(Customer {
            segment,
            country,
            signup,
            true_nps,
            reports_nps,
            bad_tickets: 0,
            active_slot: None,
        });
        self.customers.len() - 1
    }

    fn booking(&mut self, day: NaiveDate, category: usize, price_index: f64) -> duckdb::Result<()> {
        let created = at(day, self.booking_second());
        let channel = ["B2C", "B2B", "B2B2C"][self.rng.weighted(&[0.55, 0.30, 0.15])];
        let customer = if self.active.is_empty() || self.rng.chance(0.4) {
            let segment = (channel == "B2B" && self.rng.chance(0.5)).then_some(3);
            let c = self.new_customer(day, segment);
            self.customers[c].active_slot = Some(self.active.len());
            self.active.push(c);
            c
        } else {
            let slot = self.rng.int(0, self.active.len() as i64 - 1) as usize;
            self.active[slot]
        };
        let tour = *self.rng.pick(&self.tours_by_category[category]);
        let partner = match channel {
            "B2C" => None,
            kind => {
                let (members, weights) = &self.partner_pools[usize::from(kind == "B2B2C")];
                Some(members[self.rng.weighted(weights)])
            }
        };
        let travelers: i16 = if channel == "B2B" {
            self.rng.int(2, 12) as i16
        } else {
            [1, 2, 3, 4, 5, 6][self.rng.weighted(&[0.30, 0.40, 0.12, 0.12, 0.04, 0.02])]
        };
        let segment = self.customers[customer].segment;
        let unit_price = cents(self.tours[tour].base_price * price_index * SEGMENTS[segment].2);
        let price_paid = cents(unit_price * f64::from(travelers));
        let commission = partner.map_or(0.0, |p| {
            cents(price_paid * self.partners[p].commission_rate)
        });
        let lead_days = self.rng.exponential(45.0).clamp(1.0, 270.0).round() as i64;
        let travel_date = day + Duration::days(lead_days);

        let cancel_p = 0.06 + if segment == 0 { 0.04 } else { 0.0 } + 0.0002 * lead_days as f64;
        let fate = self.rng.unit();
        let status = if fate < cancel_p {
            "cancelled"
        } else if fate < cancel_p + 0.03 {
            "refunded"
        } else if travel_date <= self.opts.end_date {
            "completed"
        } else if self
            .rng
            .chance(if (self.opts.end_date - day).num_days() < 7 {
                0.6
            } else {
                0.1
            })
        {
            "pending"
        } else {
            "confirmed"
        };
        let booking_id = self.id("bookings");
        self.tables.add(
            "bookings",
            params![
                booking_id,
                customer as i64 + 1,
                tour as i32 + 1,
                channel,
                partner.map(|p| p as i32 + 1),
                status,
                price_paid,
                commission,
                travelers,
                unit_price,
                (price_index * 1000.0).round() / 1000.0,
                created,
                travel_date
            ],
        )?;
        self.payments(booking_id, status, price_paid, created, travel_date)?;
        self.notifications(booking_id, customer, status, created, travel_date)?;
        self.ticket(booking_id, customer, created, travel_date)?;
        self.maybe_churn(customer);
        Ok(())
    }

    fn booking_second(&mut self) -> i64 {
        const HOURS: [f64; 24] = [
            0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.0, 2.3, 2.4, 2.2, 2.0, 2.0, 2.0, 1.9,
            1.8, 1.9, 2.2, 2.4, 2.2, 1.4, 0.7,
        ];
        self.rng.weighted(&HOURS) as i64 * 3600 + self.rng.int(0, 3599)
    }

    fn payments(
        &mut self,
        booking_id: i64,
        status: &str,
        price_paid: f64,
        created: NaiveDateTime,
        travel_date: NaiveDate,
    ) -> duckdb::Result<()> {
        if matches!(status, "pending" | "cancelled") {
            return Ok(());
        }
        let (provider, pct, fixed) = [
            ("stripe", 0.029, 0.30),
            ("paypal", 0.0349, 0.49),
            ("square", 0.026, 0.10),
        ][self.rng.weighted(&[0.55, 0.30, 0.15])];
        let mut paid_at = created + Duration::seconds(self.rng.int(30, 1800));
        if self.rng.chance(0.02) {
            let id = self.id("payments");
            self.tables.add(
                "payments",
                params![id, booking_id, provider, price_paid, 0.0, "failed", paid_at],
            )?;
            paid_at += Duration::seconds(self.rng.int(60, 3600));
        }
        let id = self.id("payments");
        let fee = cents(price_paid * pct + fixed);
        self.tables.add(
            "payments",
            params![
                id,
                booking_id,
                provider,
                price_paid,
                fee,
                "succeeded",
                paid_at
            ],
        )?;
        if status == "refunded" {
            let span =
                (travel_date.and_hms_opt(0, 0, 0).expect("midnight") - paid_at).num_seconds();
            let refunded_at = paid_at + Duration::seconds(self.rng.int(3600, span.max(7200)));
            if refunded_at < self.end_instant {
                let id = self.id("payments");
                self.tables.add(
                    "payments",
                    params![
                        id,
                        booking_id,
                        provider,
                        -price_paid,
                        0.0,
                        "refunded",
                        refunded_at
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn notifications(
        &mut self,
        booking_id: i64,
        customer: usize,
        status: &str,
        created: NaiveDateTime,
        travel_date: NaiveDate,
    ) -> duckdb::Result<()> {
        let mut sends = vec![("confirmation", created + Duration::seconds(60))];
        if !matches!(status, "cancelled" | "refunded") {
            sends.push((
                "reminder",
                (travel_date - Duration::days(3))
                    .and_hms_opt(9, 0, 0)
                    .expect("9:00"),
            ));
        }
        if status == "completed" {
            sends.push((
                "review_request",
                (travel_date + Duration::days(2))
                    .and_hms_opt(10, 0, 0)
                    .expect("10:00"),
            ));
        }
        for (kind, sent_at) in sends {
            if sent_at >= self.end_instant || sent_at < created {
                continue;
            }
            let (channel, open_rate) = [
                ("email", 0.45),
                ("sms", 0.9),
                ("push", 0.35),
                ("whatsapp", 0.8),
            ][self.rng.weighted(&[0.7, 0.1, 0.1, 0.1])];
            let delivered = self.rng.chance(0.97);
            let opened = delivered && self.rng.chance(open_rate);
            let id = self.id("notifications");
            self.tables.add(
                "notifications",
                params![
                    id,
                    customer as i64 + 1,
                    booking_id,
                    kind,
                    channel,
                    sent_at,
                    delivered,
                    opened
                ],
            )?;
        }
        Ok(())
    }

    fn ticket(
        &mut self,
        booking_id: i64,
        customer: usize,
        created: NaiveDateTime,
        travel_date: NaiveDate,
    ) -> duckdb::Result<()> {
        let budget = self.customers[customer].segment == 0;
        if !self.rng.chance(if budget { 0.14 } else { 0.09 }) {
            return Ok(());
        }
        let window = (travel_date - created.date()).num_seconds() + 3 * 86_400;
        let opened = created + Duration::seconds(self.rng.int(600, window.max(3600)));
        if opened >= self.end_instant {
            return Ok(());
        }
        let (priority, sla_hours, median_hours) = [
            ("low", 72, 40.0),
            ("medium", 24, 16.0),
            ("high", 8, 6.0),
            ("urgent", 2, 1.5),
        ][self.rng.weighted(&[0.40, 0.35, 0.20, 0.05])];
        let channel =
            ["email", "phone", "chat", "whatsapp"][self.rng.weighted(&[0.4, 0.25, 0.25, 0.1])];
        let hours = self.rng.lognormal(median_hours, 0.9);
        let resolved = opened + Duration::seconds((hours * 3600.0) as i64);
        let (resolved_at, csat) = if resolved < self.end_instant {
            let within_sla = hours <= f64::from(sla_hours);
            let mean = if within_sla { 4.2 } else { 2.6 };
            let csat = self
                .rng
                .chance(0.7)
                .then(|| (mean + self.rng.normal()).round().clamp(1.0, 5.0) as i16);
            if csat.is_some_and(|c| c <= 2) {
                self.customers[customer].bad_tickets += 1;
            }
            (Some(resolved), csat)
        } else {
            (None, None)
        };
        let id = self.id("tickets");
        self.tables.add(
            "tickets",
            params![
                id,
                customer as i64 + 1,
                booking_id,
                priority,
                channel,
                opened,
                resolved_at,
                sla_hours,
                csat
            ],
        )
    }

    fn maybe_churn(&mut self, customer: usize) {
        let c = &self.customers[customer];
        let mut logit = CHURN_INTERCEPT + CHURN_PER_BAD_TICKET * f64::from(c.bad_tickets);
        if c.true_nps <= 6 {
            logit += CHURN_DETRACTOR;
        }
        if c.true_nps >= 9 {
            logit += CHURN_PROMOTER;
        }
        logit += match c.segment {
            0 => CHURN_BUDGET,
            3 => CHURN_BUSINESS,
            _ => 0.0,
        };
        if self.rng.chance(sigmoid(logit))
            && let Some(slot) = self.customers[customer].active_slot.take()
        {
            self.active.swap_remove(slot);
            if let Some(&moved) = self.active.get(slot) {
                self.customers[moved].active_slot = Some(slot);
            }
        }
    }

    fn ai_interactions(&mut self, day: NaiveDate, years: f64, season: f64) -> duckdb::Result<()> {
        let weekday = WEEKDAY_FACTOR[day.weekday().num_days_from_monday() as usize];
        let count = self
            .rng
            .poisson(120.0 * self.scale() * (1.0 + 0.35 * years) * weekday * season.sqrt());
        let agent_weights: Vec<f64> = self.agents.iter().map(|a| a.weight).collect();
        for _ in 0..count {
            let agent = self.rng.weighted(&agent_weights);
            let started = at(day, self.booking_second());
            let (success_rate, median_ms, track) = {
                let a = &self.agents[agent];
                (a.success_rate, a.median_ms, a.track)
            };
            let success = self.rng.chance(success_rate);
            let response_ms = self.rng.lognormal(median_ms, 0.45).round() as i32;
            let customer = (track == 1 && !self.customers.is_empty() && self.rng.chance(0.7))
                .then(|| self.rng.int(1, self.customers.len() as i64));
            let csat = (customer.is_some() && self.rng.chance(0.35)).then(|| {
                let mean = if success { 4.4 } else { 2.2 };
                (mean + 0.8 * self.rng.normal()).round().clamp(1.0, 5.0) as i16
            });
            let revenue = if success && SELLING_AGENTS.contains(&agent) && self.rng.chance(0.08) {
                cents(self.rng.lognormal(600.0, 0.7))
            } else {
                0.0
            };
            let id = self.id("ai_interactions");
            self.tables.add(
                "ai_interactions",
                params![
                    id,
                    agent as i32 + 1,
                    customer,
                    started,
                    response_ms,
                    success,
                    csat,
                    revenue
                ],
            )?;
        }
        Ok(())
    }

    fn calls(&mut self, day: NaiveDate, years: f64, season: f64) -> duckdb::Result<()> {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let count = self
            .rng
            .poisson(45.0 * self.scale() * if weekend { 0.7 } else { 1.1 } * season);
        let voice_share = 0.2 + 0.4 * (years / 3.0).min(1.0);
        for _ in 0..count {
            let started = at(day, 8 * 3600 + self.rng.int(0, 12 * 3600 - 1));
            let voice = self.rng.chance(voice_share);
            let queue = ["sales", "support", "changes", "vip"]
                [self.rng.weighted(&[0.35, 0.35, 0.22, 0.08])];
            let (agent_id, wait, answered) = if voice {
                let agent = *self.rng.pick(VOICE_AGENTS) as i32 + 1;
                (agent, self.rng.int(1, 4) as f64, self.rng.chance(0.995))
            } else {
                let wait = self.rng.exponential(40.0 * season);
                let patience = self.rng.exponential(150.0);
                (
                    1001 + self.rng.int(0, 23) as i32,
                    wait.min(patience),
                    wait < patience,
                )
            };
            let (handle, quality, outcome) = if answered {
                let handle = self.rng.lognormal(if voice { 190.0 } else { 280.0 }, 0.55);
                let quality = if voice {
                    4.1 + 0.25 * self.rng.normal()
                } else {
                    self.rng.uniform(3.8, 4.6)
                };
                let outcomes = if voice {
                    [0.58, 0.12, 0.22, 0.08]
                } else {
                    [0.62, 0.15, 0.05, 0.18]
                };
                let outcome = ["resolved", "booking_made", "transferred", "callback"]
                    [self.rng.weighted(&outcomes)];
                (
                    handle.round() as i32,
                    Some((quality.clamp(1.0, 5.0) * 100.0).round() / 100.0),
                    outcome,
                )
            } else {
                (0, None, "abandoned")
            };
            let id = self.id("calls");
            self.tables.add(
                "calls",
                params![
                    id,
                    if voice { "voice_ai" } else { "human" },
                    agent_id,
                    queue,
                    started,
                    wait.round() as i32,
                    handle,
                    answered,
                    quality,
                    outcome
                ],
            )?;
        }
        Ok(())
    }

    fn leads(&mut self, day: NaiveDate, season: f64) -> duckdb::Result<()> {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let count = self
            .rng
            .poisson(36.0 * self.scale() * if weekend { 0.6 } else { 1.15 } * season);
        let source_weights: Vec<f64> = LEAD_SOURCES.iter().map(|s| s.1).collect();
        let channel_weights: Vec<f64> = LEAD_CHANNELS.iter().map(|c| c.1).collect();
        for _ in 0..count {
            let created = at(day, self.booking_second());
            let source = self.rng.weighted(&source_weights);
            let channel = self.rng.weighted(&channel_weights);
            let customer = if matches!(LEAD_SOURCES[source].0, "referral" | "partner")
                && !self.customers.is_empty()
                && self.rng.chance(0.3)
            {
                self.rng.int(0, self.customers.len() as i64 - 1) as usize
            } else {
                self.new_customer(day, (channel == 1).then_some(3))
            };
            let response_minutes = self.rng.lognormal(40.0, 1.3).clamp(1.0, 10_080.0).round();
            let logit = LEAD_INTERCEPT
                + LEAD_SOURCES[source].2
                + LEAD_CHANNELS[channel].2
                + LEAD_RESPONSE_SLOPE * (1.0 + response_minutes / 60.0).ln();
            let won = self.rng.chance(sigmoid(logit));
            let final_stage = if won {
                STAGES.len() - 1
            } else {
                self.rng.weighted(&LOST_AT_STAGE)
            };
            let decision_days = if won {
                self.rng.lognormal(12.0, 0.7)
            } else {
                self.rng.lognormal(8.0, 0.8)
            };
            let decided = created + Duration::seconds((decision_days * 86_400.0) as i64);
            let median_value = [900.0, 6000.0, 2500.0][channel];
            let value = cents(self.rng.lognormal(median_value, 0.7));
            let (stage, converted_at, closed_at, reached) = if decided < self.end_instant {
                let stage = if won { "won" } else { "lost" };
                (stage, won.then_some(decided), Some(decided), final_stage)
            } else {
                let elapsed = (self.end_instant - created).num_seconds() as f64
                    / (decided - created).num_seconds().max(1) as f64;
                let reached = ((elapsed * (final_stage + 1) as f64) as usize).min(final_stage);
                (STAGES[reached], None, None, reached)
            };
            let lead_id = self.id("leads");
            self.tables.add(
                "leads",
                params![
                    lead_id,
                    customer as i64 + 1,
                    LEAD_SOURCES[source].0,
                    LEAD_CHANNELS[channel].0,
                    stage,
                    value,
                    response_minutes as i32,
                    created,
                    converted_at,
                    closed_at
                ],
            )?;
            let until = closed_at.unwrap_or(self.end_instant);
            let touches = 1 + self
                .rng
                .poisson(0.8 * reached as f64 + if won { 1.5 } else { 0.0 });
            let span = (until - created).num_seconds().max(60);
            let first_touch = (response_minutes as i64 * 60).min(span - 1);
            for t in 0..touches {
                let offset = if t == 0 {
                    first_touch
                } else {
                    self.rng.int(first_touch, span - 1)
                };
                let when = created + Duration::seconds(offset);
                if when >= self.end_instant {
                    continue;
                }
                let channel = ["email", "phone", "meeting", "chat", "whatsapp"]
                    [self.rng.weighted(&[0.35, 0.25, 0.1, 0.2, 0.1])];
                let kind = match t {
                    0 => "outreach",
                    _ => ["follow_up", "demo", "quote", "negotiation"]
                        [self.rng.weighted(&[0.45, 0.2, 0.2, 0.15])],
                };
                let positive = if won { 0.6 } else { 0.3 };
                let outcome = ["positive", "neutral", "negative"]
                    [self.rng.weighted(&[positive, 0.5, 0.5 - positive / 2.0])];
                let id = self.id("crm_interactions");
                self.tables.add(
                    "crm_interactions",
                    params![
                        id,
                        lead_id,
                        customer as i64 + 1,
                        channel,
                        kind,
                        outcome,
                        when
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn write_customers(&mut self) -> duckdb::Result<()> {
        for (i, c) in self.customers.iter().enumerate() {
            let id = i as i64 + 1;
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
            let name = if c.segment == 3 {
                format!("{last} {}", COMPANY_SUFFIXES[i % COMPANY_SUFFIXES.len()])
            } else {
                format!("{first} {last}")
            };
            let email = format!(
                "{}.{}{id}@example.com",
                first.to_lowercase(),
                ascii_slug(last)
            );
            self.tables.add(
                "customers",
                params![
                    id,
                    name,
                    email,
                    SEGMENTS[c.segment].0,
                    COUNTRIES[c.country].0,
                    c.signup,
                    c.reports_nps.then_some(c.true_nps)
                ],
            )?;
        }
        Ok(())
    }
}

fn at(day: NaiveDate, second: i64) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::seconds(second)
}

fn weights(items: &[(&str, f64)]) -> Vec<f64> {
    items.iter().map(|i| i.1).collect()
}

fn weights3(items: &[(&str, f64, f64, f64)]) -> Vec<f64> {
    items.iter().map(|i| i.1).collect()
}

fn ascii_slug(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            'ü' => Some('u'),
            'í' => Some('i'),
            'ó' => Some('o'),
            ' ' => None,
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Yearly seasonality factor for bookings created on `day`.
pub fn yearly_factor(day: NaiveDate) -> f64 {
    let phase = std::f64::consts::TAU * (f64::from(day.ordinal()) - YEARLY_PEAK_DAY) / 365.25;
    1.0 + YEARLY_AMPLITUDE * phase.cos()
}

fn is_winter_season(day: NaiveDate) -> bool {
    (day.month() == 12 && day.day() >= 15) || (day.month() == 1 && day.day() <= 6)
}

/// Public holidays shared by the main source markets: fixed dates plus Easter.
pub fn is_holiday(day: NaiveDate) -> bool {
    const FIXED: &[(u32, u32)] = &[
        (1, 1),
        (1, 6),
        (5, 1),
        (8, 15),
        (11, 1),
        (12, 8),
        (12, 24),
        (12, 25),
        (12, 26),
        (12, 31),
    ];
    if FIXED.contains(&(day.month(), day.day())) {
        return true;
    }
    let easter = easter_sunday(day.year());
    [-2, 0, 1]
        .iter()
        .any(|d| easter + Duration::days(*d) == day)
}

/// Easter Sunday (anonymous Gregorian algorithm).
fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("valid Easter date")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(
            easter_sunday(2024),
            NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()
        );
        assert_eq!(
            easter_sunday(2025),
            NaiveDate::from_ymd_opt(2025, 4, 20).unwrap()
        );
        assert_eq!(
            easter_sunday(2026),
            NaiveDate::from_ymd_opt(2026, 4, 5).unwrap()
        );
    }

    #[test]
    fn yearly_factor_peaks_in_june() {
        let june = yearly_factor(NaiveDate::from_ymd_opt(2025, 6, 21).unwrap());
        let december = yearly_factor(NaiveDate::from_ymd_opt(2025, 12, 21).unwrap());
        assert!(june > 1.29 && december < 0.71, "{june} {december}");
    }
}
