"""Refusal rules by family of harm: an intent to act (make, hack into, track, forge…) joined
to a harmful object, never a word alone, with the benign senses of the same words excluded
("kill a process", "a bomb of a launch", "phishing awareness")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FLAGS = re.IGNORECASE


@dataclass(frozen=True)
class RefusalRule:
    """A family of requests the agent declines, recognized by patterns of intent."""

    category: str
    reason: str
    patterns: re.Pattern[str]
    benign: re.Pattern[str] | None = None

    def matches(self, text: str) -> bool:
        if not self.patterns.search(text):
            return False
        return self.benign is None or not self.benign.search(text)


def _rule(category: str, reason: str, patterns: list[str], benign: list[str] = ()) -> RefusalRule:
    joined = re.compile("|".join(f"(?:{p})" for p in patterns), _FLAGS)
    excluded = re.compile("|".join(f"(?:{p})" for p in benign), _FLAGS) if benign else None
    return RefusalRule(category, reason, joined, excluded)


# Words for people someone might target (a person, not a process, a weed or a chess opening).
_PERSON = (
    r"(?:someone|somebody|anyone|a\s+(?:person|man|woman|child|kid|stranger)|people|"
    r"him|her|them|my\s+(?:\w+\s+){0,2}(?:neighbou?r|wife|husband|partner|boss|ex|coworker|"
    r"colleague|teacher|girlfriend|boyfriend|mom|mother|dad|father|brother|sister|roommate|"
    r"classmate|landlord)|(?:his|her|their|the)\s+(?:\w+\s+)?(?:dog|cat|pet|family))"
)
_MAKE = r"(?:make|making|build|building|assemble|construct|create|craft|3d[- ]?print|improvi[sz]e)"
_WEAPON = (
    r"(?:(?:pipe|nail|car|fertili[sz]er|dirty)\s+bombs?|bombs?|explosives?|ieds?|grenades?|"
    r"molotov(?:\s+cocktails?)?|napalm|detonators?|guns?|firearms?|rifles?|silencers?|"
    r"suppressors?|weapons?|nerve\s+agents?|ricin|sarin)"
)
_DRUG = (
    r"(?:meth(?:amphetamine)?|crystal\s+meth|fentanyl|heroin|(?:crack\s+)?cocaine|crack|lsd|"
    r"mdma|ecstasy|dmt|ghb|ketamine|psilocybin|magic\s+mushrooms|shrooms|opium|pcp|mescaline)"
)

RULES: tuple[RefusalRule, ...] = (
    _rule(
        "self_harm",
        "requests for ways to harm oneself are answered with care and pointers to help",
        [
            r"\b(?:kill|hang|hurt|harm|cut|burn|starve|poison|drown)\s+(?:my\s*self|myself)\b",
            r"\b(?:end|take)\s+my\s+(?:own\s+)?life\b",
            r"\b(?:commit(?:ting)?\s+suicide|suicide\s+(?:method|plan)s?)\b",
            r"\b(?:how|ways?|methods?|best\s+way)\b.{0,30}\bsuicide\b",
            r"\b(?:painless|quick|quickest|easy|easiest|best)\s+(?:way|method)s?\s+to\s+die\b",
            r"\bi\s+(?:want|wish)\s+to\s+die\b|\bdon'?t\s+want\s+to\s+(?:live|be\s+alive)\b",
            r"\b(?:how\s+many|how\s+much)\b.{0,40}\b(?:pills?|tablets?|paracetamol|"
            r"acetaminophen|tylenol|insulin)\b.{0,40}\b(?:overdose|die|not\s+wake\s+up|lethal|"
            r"fatal)\b",
            r"\b(?:bridge|building|roof|cliff|tower)\b.{0,30}\bjump\s+(?:off|from)\b",
            r"\bjump\s+(?:off|from)\s+(?:a|the)\s+(?:bridge|building|roof|cliff)\s+to\s+die\b",
            r"\b(?:ways?|how)\s+to\s+(?:die|end\s+it(?:\s+all)?)\b|\bend\s+it\s+all\b",
            r"\b(?:way|how|enough)\b.{0,30}\boverdos\w*\b|\boverdos\w*\s+on\b",
            r"\bsuicid\w*\b.{0,40}\b(?:how|ways?|methods?|help\s+me|plan|painless)\b",
            r"\bself[- ]?harm\w*\b.{0,30}\b(?:how|ways?|tips?|hide|without)\b|\bhide\b.{0,30}"
            r"\b(?:cuts|scars|self[- ]?harm)\b",
            r"\blethal\s+dose\b.{0,60}\b(?:for\s+me|my\s+size|my\s+weight|myself|i\s+weigh|i\s+want)"
            r"\b|\bi\s+want\s+(?:it|this|everything)\s+(?:all\s+)?to\s+be\s+over\b",
        ],
        benign=[
            r"\boverdose[- ]proof\b|\b(?:prevent|avoid|treat|reverse|symptoms\s+of|signs\s+of|"
            r"someone\s+(?:who|is))\b.{0,20}\boverdos",
            r"\b(?:support|help)\s+(?:a|my)\s+(?:friend|partner|child|kid|son|daughter)\b",
        ],
    ),
    _rule(
        "violence_weapons",
        "requests to build weapons or hurt people or animals are declined",
        [
            rf"\b{_MAKE}\b.{{0,40}}\b{_WEAPON}\b",
            r"\b(?:untraceable|ghost|homemade|home-made)\s+(?:guns?|firearms?|bombs?|explosives?)\b",
            r"\bfull(?:y)?[- ]?auto(?:matic)?\b.{0,40}\bconver|\bconver\w*\b.{0,60}\bfull(?:y)?"
            r"[- ]?auto(?:matic)?\b",
            rf"\b(?:turn|convert)\b.{{0,40}}\binto\s+(?:a\s+)?{_WEAPON}",
            rf"\b(?:hurt|harm|injure|kill|murder|stab|strangle|poison|maim|beat\s+up|shoot)\b"
            rf".{{0,25}}\b{_PERSON}",
            r"\b(?:knife|weapon|gun|way)\b.{0,30}\b(?:stabbing|shooting|killing)\s+(?:someone|"
            r"somebody|a\s+person|people)\b",
            r"\b(?:attack|shoot|stab|bomb|run\s+over)\b.{0,40}\b(?:crowds?|crowded|people|school|"
            r"concert|church|mosque|synagogue|mall|parade)\b",
            r"\b(?:toxic|poison(?:ous)?|deadly|nerve)\s+gas\b.{0,60}\b(?:hurt|harm|kill|someone|"
            r"people)\b|\b(?:make|mix)\b.{0,60}\btoxic\s+gas\b.{0,30}\b(?:hurt|harm|kill)\b",
            r"\b(?:how\s+much|how\s+many|what\s+dose)\b.{0,40}\b(?:poison|cyanide|arsenic|"
            r"antifreeze)\b.{0,40}\b(?:kill|lethal|die)\b",
            r"\b(?:hide|dispose\s+of|get\s+rid\s+of|dissolve|bury)\s+(?:a|the|his|her)\s+(?:dead\s+)?"
            r"body\b|\b(?:murder|assassinat\w*)\b.{0,40}\b(?:how|plan|ways?|get\s+away)\b",
            r"\blethal\s+dose\b.{0,60}\b(?:someone|somebody|him|her|them|my\s+\w+|a\s+person)\b",
        ],
        benign=[
            r"\b(?:bath|seed|photo|glitter|flavou?r|calorie|cherry)\s*-?bombs?\b",
            r"\bbomb\s+of\s+a\b",
            r"\b(?:gun|weapon)\s+safe\b|\b(?:glue|nail|water|nerf|heat|spray|staple|caulk)\s+guns?\b",
        ],
    ),
    _rule(
        "cyber_abuse",
        "hacking, malware and breaking into accounts or systems are declined",
        [
            r"\b(?:write|create|build|code|develop|make|generate|install|deploy|spread|hide)\w*\b"
            r".{0,40}\b(?:malware|keyloggers?|ransomware|botnets?|rootkits?|trojans?|spyware|"
            r"stalkerware|info-?stealers?|computer\s+virus|worms?)\b",
            r"\b(?:malware|ransomware|keylogger|worm)\b.{0,30}\b(?:that\s+)?(?:spreads?|encrypts?|"
            r"steals?)\b",
            r"\b(?:launch|run|perform|carry\s+out|start|conduct|execute|send)\b.{0,30}\b(?:d?dos|"
            r"denial[- ]of[- ]service)\b",
            r"\b(?:hack|break|get|log|sneak)\s+(?:in\s*to|into)\b.{0,40}\b(?:someone|somebody|"
            r"another|other\s+people|a\s+stranger|his|her|their|my\s+(?:\w+\s+)?(?:ex|neighbou?r|"
            r"wife|husband|partner|boss|coworker)|\w+'s)\b.{0,30}\b(?:accounts?|emails?|phones?|"
            r"instagram|facebook|computers?|laptops?|wi-?fi|routers?|networks?|cameras?)",
            r"\bhack(?:ing)?\s+(?:into|someone|somebody|my\s+(?:\w+\s+)?(?:neighbou?r|ex))",
            r"\bbrute[- ]?forc\w*\b.{0,40}\b(?:passwords?|logins?|accounts?|someone|pins?)\b",
            r"\b(?:working|zero[- ]day|0-?day)\s+exploits?\b|\bexploit\b.{0,60}\b(?:get\s+in|gain"
            r"\s+access|break\s+in|take\s+over)\b",
            r"\bsteal\w*\b.{0,40}\b(?:cookies?|sessions?|credentials?|passwords?|tokens?|"
            r"credit\s+cards?|identit(?:y|ies)|data)\b",
            r"\bbypass\w*\b.{0,40}\b(?:signature|authenticat\w*|passwords?|licen[cs]e|drm|2fa|"
            r"two[- ]factor|captcha|antivirus)\b",
            r"\b(?:spyware|tracker|tracking\s+app)\b.{0,50}\bwithout\s+(?:him|her|them|my\s+\w+)"
            r"\s+know",
        ],
        benign=[
            r"\b(?:remove|detect|protect|defend|prevent|clean|scan|get\s+rid\s+of)\w*\b"
            r".{0,30}\b(?:malware|ransomware|spyware|virus|keylogger)"
        ],
    ),
    _rule(
        "fraud_phishing",
        "phishing, impersonation, forged documents and fraud are declined",
        [
            r"\b(?:write|create|draft|make|generate|send|design|craft|compose)\b.{0,40}\bphish",
            r"\bphishing\s+(?:emails?|texts?|messages?|sms|pages?|sites?|kits?)\b.{0,60}\b"
            r"(?:customers?|users?|victims?|people|card|pin|password)",
            r"\b(?:pretend\w*|posing|pose|impersonat\w*|looks?\s+like\s+it'?s)\s+(?:to\s+be\s+)?"
            r"(?:from\s+)?(?:a\s+|an\s+|the\s+|my\s+|your\s+|our\s+)?(?:\w+\s+){0,2}(?:bank|paypal|"
            r"irs|hmrc|amazon|microsoft|apple|google|support|police|government|tax\s+office|"
            r"courier|delivery\s+company|ceo|grandson|granddaughter|grandchild|relative|son|"
            r"daughter|lawyer|officer|agent)\b",
            r"\b(?:ask|asking|get|collect|harvest|trick|convince)\w*\b.{0,60}\b(?:customers?|"
            r"users?|people|victims?|them|elderly)\b.{0,40}\b(?:pins?|passwords?|card\s+numbers?|"
            r"cvvs?|login\s+details|credentials|one[- ]time\s+codes?)\b",
            r"\b(?:make|create|generate|write|forge|print|produce|draft|fabricate|need|get\s+me|"
            r"give\s+me)\b.{0,30}\b(?:fake|forged|counterfeit|bogus|fraudulent|falsified)\s+"
            r"(?:[\w-]+\s+){0,2}(?:receipts?|invoices?|doctor'?s\s+notes?|sick\s+notes?|ids?|"
            r"passports?|diplomas?|degrees?|certificates?|reviews?|checks?|cheques?|bank\s+"
            r"statements?|pay\s*stubs?|warrant(?:y|ies)|prescriptions?|licen[cs]es?)\b",
            r"\b(?:forge|counterfeit)\b.{0,30}\b(?:signatures?|documents?|money|bills?|notes?|"
            r"claims?|checks?|cheques?|receipts?|ids?|currency)\b",
            r"\b(?:make|making|create|print|produce|design|draw)\w*\b.{0,30}\b(?:counterfeit|fake)\s+"
            r"(?:money|cash|currency|bills?|banknotes?|notes?|coins?)\b",
            r"\b(?:write|create|run|set\s+up|design|plan)\b.{0,30}\b(?:scam|ponzi|pyramid\s+scheme)\b",
            r"\b(?:how\s+(?:do|can|could|would|should)\s+i|help\s+me|ways?\s+to|teach\s+me|"
            r"show\s+me)\b.{0,40}\blaunder",
            r"\bchargeback\b.{0,80}\b(?:received|keep\s+(?:the|my)\s+(?:money|item)|got\s+"
            r"(?:it|the\s+item))\b",
            r"\brefund\b.{0,40}\bnot\s+owed\b",
        ],
        benign=[
            r"\bphishing\s+(?:awareness|training|simulation|test|quiz|prevention|"
            r"detection|attempts?)\b"
        ],
    ),
    _rule(
        "privacy",
        "finding, tracking or exposing personal data about other people is declined",
        [
            r"\b(?:home|house|residential|private)\s+address(?:es)?\b.{0,40}\b(?:of|for)\s+"
            r"(?:the|a|an|my|this|that|his|her|our|your)?\s*(?:\w+\s+){0,2}(?:journalist|person|"
            r"man|woman|girl|guy|celebrity|ceo|employee|user|stranger|neighbou?r|coworker|"
            r"colleague|teacher|ex|someone|somebody|reviewer|streamer|influencer|actor|actress)",
            r"\b(?:track|trace|locate|follow|spy\s+on|monitor|stalk)\w*\b.{0,40}\b(?:girlfriend|"
            r"boyfriend|wife|husband|partner|ex|someone|somebody|a\s+person|stranger|coworker|"
            r"him|her|them)\b",
            r"\b(?:read|see|check|monitor)\w*\b.{0,30}\b(?:messages|texts|emails|whatsapp)\b"
            r".{0,40}\bwithout\s+(?:him|her|them|my\s+\w+)\s+know",
            r"\b(?:social\s+security|ssn|passport|credit\s+card|bank\s+account|medical\s+records?)"
            r"\s*(?:numbers?|details)?\b.{0,20}\b(?:of|for|belonging\s+to)\s+(?!my\b|our\b)\w+",
            r"\bdox+(?:ing|ed)?\b",
            r"\b(?:phone\s+numbers?|(?:home\s+|house\s+|email\s+)?address(?:es)?|emails?|location|"
            r"workplace)\b.{0,40}\b(?:of|for)\s+(?:the|this|that|a|an|my|his|her)\s+(?:\w+\s+){0,2}"
            r"(?:person|man|woman|girl|guy|boy|lady|user|reviewer|journalist|celebrity|streamer|"
            r"influencer|stranger|neighbou?r|coworker|colleague|teacher|ex)\b",
            r"\bsecretly\b.{0,40}\b(?:read|track|monitor|record|follow|access|watch|film|check|"
            r"listen)\w*\b|\b(?:read|track|monitor|record|follow|film|spy)\w*\b.{0,50}\bsecretly\b",
            r"\b(?:read|access|see|check|intercept)\b.{0,20}\b(?:\w+'s|his|her|their)\s+(?:\w+\s+)?"
            r"(?:texts?|messages|whatsapp|emails?|dms|chats?|call\s+logs?)\b",
            r"\b(?:dig\s+up|find|gather|compile|get|collect)\b.{0,30}\b(?:everything|all\s+(?:the\s+)?"
            r"(?:info|information|details)|personal\s+(?:info|information|details))\b.{0,30}"
            r"\babout\b",
            r"\bwhere\b.{0,40}\b(?:stranger|someone|somebody|she|he|(?:this|that|the|a)\s+(?:girl|guy|"
            r"woman|man|person|lady|boy)|my\s+ex)\b.{0,30}\blives?\b",
            r"\b(?:phone\s+number|address|email)\b.{0,30}\b(?:of|for)\s+(?:an?|the|your)\s+"
            r"(?:\w+\s+){0,3}employees?",
        ],
    ),
    _rule(
        "prompt_injection",
        "attempts to override the agent's instructions or extract its secrets are declined",
        [
            r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,25}\b(?:all\s+|any\s+|the\s+|your\s+"
            r")?(?:previous|prior|above|earlier|system|safety|developer|original)\s+(?:instructions?"
            r"|prompts?|rules?|guidelines?|messages?|directives?)",
            r"\b(?:reveal|print|show|output|dump|leak|repeat|tell\s+me|give\s+me|display)\b.{0,40}"
            r"\b(?:system\s+prompt|hidden\s+(?:instructions?|prompts?|rules)|initial\s+"
            r"instructions?|developer\s+(?:instructions?|messages?)|your\s+(?:instructions|prompt))",
            r"\b(?:reveal|print|dump|leak|give\s+me|list|output|show(?:\s+me)?|display|expose)\b"
            r".{0,40}\b(?:your|the|any|all)\b.{0,30}\b(?:api[_ ]?keys?|secrets?|environment\s+"
            r"variables|env\s+vars|passwords|access\s+tokens?|credentials|private\s+keys?)\b",
            r"\b(?:you\s+are\s+now|act\s+as|pretend\s+(?:you\s+are|to\s+be))\b.{0,40}\b(?:dan|"
            r"unfiltered|uncensored|jailbroken|evil|without\s+(?:any\s+)?(?:restrictions|rules|"
            r"filters|limits))\b",
            r"\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bjailbreak\w*\b",
            r"\b(?:pretend|imagine|act|answer|respond|behave|reply)\b.{0,30}\b(?:have\s+)?(?:no|"
            r"without)\s+(?:any\s+)?(?:guidelines|rules|restrictions|filters|guardrails|policies|"
            r"limits|ethics)\b",
            r"\bunfiltered\s+(?:model|ai|assistant|mode)\b|\bwithout\s+(?:any\s+)?(?:restrictions|"
            r"filters|guardrails|safety)\b",
        ],
    ),
    _rule(
        "illegal_drugs",
        "instructions to make or obtain illegal drugs are declined",
        [
            rf"\b(?:cook|make|making|synthesi[sz]\w*|produce|manufactur\w*|extract|grow)\b.{{0,40}}"
            rf"\b{_DRUG}\b",
            rf"\bsynthesis\s+(?:route|of|for|recipe)\b.{{0,30}}\b{_DRUG}\b",
            rf"\b(?:buy|order|get)\b.{{0,30}}\b{_DRUG}\b.{{0,30}}\b(?:online|dark\s*web|without)",
        ],
    ),
    _rule(
        "crime_evasion",
        "help with theft or escaping detection for a crime is declined",
        [
            r"\bwithout\s+(?:getting\s+caught|being\s+caught|anyone\s+finding\s+out|leaving\s+"
            r"(?:marks|evidence|a\s+trace|fingerprints))\b",
            r"\b(?:hot-?wire|steal|break\s+into)\b.{0,20}\b(?:a|the|my\s+neighbou?r'?s|someone'?s)"
            r"\s+(?:\w+\s+)?(?:car|bike|house|home|apartment|store|shop)\b",
            r"\bshoplift\w*\b.{0,40}\b(?:how|tips?|ways?|without)\b|\b(?:how|tips?|ways?)\b.{0,30}"
            r"\bshoplift",
            r"\b(?:pick|open)\s+(?:a|the)\s+lock\b.{0,40}\b(?:someone|somebody|neighbou?r|"
            r"not\s+mine|isn'?t\s+mine)",
        ],
    ),
    _rule(
        "dangerous_modification",
        "disabling a product's safety features is declined",
        [
            r"\b(?:disable|bypass|override|defeat|tamper\s+with|remove)\b.{0,40}\b(?:overheat\w*|"
            r"safety\s+(?:features?|cut-?off|valves?|switch(?:es)?|interlocks?)|protection\s+"
            r"circuit|cut-?off|thermal|fuse|interlock)\b",
        ],
    ),
)
