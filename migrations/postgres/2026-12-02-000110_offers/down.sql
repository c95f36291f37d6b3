DROP TABLE chat_offers;
