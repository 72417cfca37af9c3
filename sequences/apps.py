from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from records import extensions, timeline
        from records.constants import RecordKind

        from . import report_names
        from .automation import services as automation_rules
        from .engine import receivers as engine_receivers
        from .enrollment import card, services
        from .stopping import receivers as stopping_receivers

        # The enrollment's card on the contact's timeline.
        timeline.register_kind(
            services.SEQUENCE_ACTIVITY,
            _("Sequence"),
            "sequences/enrollment/card.html",
            card.prefetch_enrollments,
        )
        # "Enroll in sequence" among a record's actions: a contact, or another record's
        # associated contacts.
        extensions.register_record_action(
            extensions.RecordAction(
                "sequence",
                _("Enroll in sequence"),
                "sequences:record-enroll",
                lambda user, record: user.can_reach_out,
            )
        )
        # "Enroll in sequence" on the contacts index, for the selected contacts.
        extensions.register_list_action(
            extensions.ListAction(
                "sequence",
                _("Enroll in sequence"),
                "sequences:pick-sequence",
                (RecordKind.CONTACT,),
                lambda user: user.can_reach_out,
            )
        )
        # Steps go on when a task is completed; replies, bounces and opt-outs stop them;
        # automation rules enroll and unenroll on a contact's edits.
        engine_receivers.connect()
        stopping_receivers.connect()
        automation_rules.connect()
        # The email reports name a sequence's steps and group them by sequence.
        report_names.register()
