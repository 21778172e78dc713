//! The planted truths of the demo data: the effects the simulation builds in, so that forecasts,
//! churn and pricing models can be checked against known answers. `docs/demo-truths.md` explains
//! them; keep the two in step.

/// Tour categories with their share of demand at list price and their price elasticity of demand
/// (log-log: bookings of a category scale with `price_index ^ elasticity`).
pub const CATEGORIES: &[(&str, f64, f64)] = &[
    ("cultural", 0.24, -0.8),
    ("adventure", 0.18, -1.3),
    ("beach", 0.20, -1.6),
    ("food", 0.12, -1.0),
    ("nature", 0.16, -1.1),
    ("luxury", 0.10, -0.5),
];

/// Bookings created per day at scale 1 on the first day, before the factors below.
pub const BASE_DAILY_BOOKINGS: f64 = 76.0;

/// Growth of booking volume per year (multiplicative: volume × (1 + g)^years).
pub const ANNUAL_GROWTH: f64 = 0.18;

/// Weekly seasonality of bookings created, Monday to Sunday.
pub const WEEKDAY_FACTOR: [f64; 7] = [1.08, 1.04, 1.00, 0.98, 0.94, 0.88, 1.08];

/// Yearly seasonality of bookings created: `1 + A cos(2π (day_of_year − PEAK) / 365.25)`.
pub const YEARLY_AMPLITUDE: f64 = 0.30;
/// Day of year of the yearly peak (21 June).
pub const YEARLY_PEAK_DAY: f64 = 172.0;

/// Extra bookings on public holidays.
pub const HOLIDAY_FACTOR: f64 = 1.25;
/// Extra bookings in the winter holiday season (15 December to 6 January).
pub const WINTER_SEASON_FACTOR: f64 = 1.20;

/// Dynamic pricing: each category's price index is drawn each ISO week, uniform in this range.
pub const PRICE_INDEX_RANGE: (f64, f64) = (0.80, 1.20);

/// Churn: after each booking the customer stops booking for good with probability
/// `sigmoid(CHURN_INTERCEPT + effects)`, effects in log-odds.
pub const CHURN_INTERCEPT: f64 = -2.0;
/// Log-odds added for detractors (true NPS 0-6).
pub const CHURN_DETRACTOR: f64 = 1.2;
/// Log-odds added for promoters (true NPS 9-10).
pub const CHURN_PROMOTER: f64 = -0.8;
/// Log-odds added per support ticket rated 1 or 2 (csat).
pub const CHURN_PER_BAD_TICKET: f64 = 0.7;
/// Log-odds added for the budget segment.
pub const CHURN_BUDGET: f64 = 0.4;
/// Log-odds added for the business segment.
pub const CHURN_BUSINESS: f64 = -0.6;

/// Lead conversion: a lead is won with probability `sigmoid(LEAD_INTERCEPT + source + channel
/// + LEAD_RESPONSE_SLOPE × ln(1 + first_response_hours))`.
pub const LEAD_INTERCEPT: f64 = -1.1;
/// Log-odds by lead source.
pub const LEAD_SOURCES: &[(&str, f64, f64)] = &[
    // (source, share of leads, log-odds effect)
    ("website", 0.28, 0.0),
    ("google_ads", 0.18, -0.2),
    ("facebook", 0.12, -0.5),
    ("instagram", 0.10, -0.6),
    ("referral", 0.10, 0.9),
    ("partner", 0.10, 0.6),
    ("trade_show", 0.04, 0.4),
    ("email_campaign", 0.08, -0.1),
];
/// Log-odds by the channel the lead would buy through: B2C, B2B, B2B2C.
pub const LEAD_CHANNELS: &[(&str, f64, f64)] =
    &[("B2C", 0.60, 0.0), ("B2B", 0.28, 0.4), ("B2B2C", 0.12, 0.2)];
/// Log-odds per unit of ln(1 + hours to first response).
pub const LEAD_RESPONSE_SLOPE: f64 = -0.35;
/// Probability that a lost lead drops out at each stage: new, contacted, qualified, proposal,
/// negotiation (so open leads in later stages are more likely to be won).
pub const LOST_AT_STAGE: [f64; 5] = [0.25, 0.30, 0.25, 0.15, 0.05];
