"""tap-hubspot: contacts, companies, deals and owners from the HubSpot CRM v3 API."""
