DROP TABLE crm_identities;
