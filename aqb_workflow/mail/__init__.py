"""Outgoing mail: render a reminder, build the MIME message, hand it to a backend.

The pieces, in the order the dispatcher uses them::

    from aqb_workflow.mail import backends, invite, message, render

    rendered = render.render(settings.templates, "district_signature_pending", context)
    outgoing = message.Outgoing(
        message_id=message.message_id_for(reminder_id),
        sender=settings.mail_sender,
        recipients=("kreisausschuss@lkgi.de",),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
    backends.backend_from_settings(settings).send(message.build(outgoing, now))

``backends.TemporaryFailure`` means "retry later with the same Message-ID";
``backends.PermanentFailure`` means "mark failed now".
"""
