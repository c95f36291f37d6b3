DROP TABLE crm_lead_outcomes;
