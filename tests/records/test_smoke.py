def test_contact_page_renders_for_its_owner(client, owner, contact):
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/")
    assert response.status_code == 200
    assert b"Olivia Owned" in response.content
