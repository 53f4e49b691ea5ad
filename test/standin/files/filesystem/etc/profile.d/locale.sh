# Set the system locale for login shells (laid out like Arch's /etc/profile.d/locale.sh).

if [ -z "$LANG" ] && [ -r /etc/locale.conf ]; then
    . /etc/locale.conf
fi
export LANG="${LANG:-C.UTF-8}"
[ -n "$LC_CTYPE" ] && export LC_CTYPE
[ -n "$LC_MESSAGES" ] && export LC_MESSAGES
[ -n "$LC_COLLATE" ] && export LC_COLLATE
[ -n "$LC_TIME" ] && export LC_TIME
